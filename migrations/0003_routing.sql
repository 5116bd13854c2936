-- Routing, deadlines, escalation, assignment and duplicates.

-- Units: city departments and agencies, utilities, telecom operators and the 168 ward/commune
-- People's Committees. `accept_minutes` is how long a unit has to accept or reject a forwarded case.
ALTER TABLE departments DROP CONSTRAINT departments_kind_check;
ALTER TABLE departments ADD CONSTRAINT departments_kind_check
    CHECK (kind IN ('department', 'agency', 'utility', 'telecom', 'ward', 'hotline'));
ALTER TABLE departments
    ADD COLUMN accept_minutes integer NOT NULL DEFAULT 240,
    ADD COLUMN notes text,
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();

-- Routing rules as data. The most specific active rule that matches wins (highest priority first,
-- then lowest id). NULL conditions match anything. `department` '@ward' means the People's
-- Committee of the case's ward.
CREATE TABLE routing_rules (
    id           serial PRIMARY KEY,
    priority     integer NOT NULL DEFAULT 0,
    field        text,
    ward_codes   text[],
    urgent       boolean,
    channel      text,
    keywords     text[],
    department   text NOT NULL,
    description  text NOT NULL DEFAULT '',
    active       boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Service levels per field and priority. Durations in minutes; `calendar` says whether they run
-- on the business calendar (working hours, holidays skipped) or around the clock.
CREATE TABLE sla_policies (
    id                        serial PRIMARY KEY,
    field                     text,
    priority                  text NOT NULL CHECK (priority IN ('normal', 'urgent')),
    forward_minutes           integer NOT NULL,
    first_response_minutes    integer NOT NULL,
    resolution_minutes        integer NOT NULL,
    calendar                  text NOT NULL CHECK (calendar IN ('business', '24x7')),
    source                    text NOT NULL DEFAULT '',
    active                    boolean NOT NULL DEFAULT true,
    updated_at                timestamptz NOT NULL DEFAULT now(),
    UNIQUE (field, priority)
);

-- Dates that differ from the holidays package: make-up working days and extra days off.
CREATE TABLE calendar_overrides (
    day       date PRIMARY KEY,
    working   boolean NOT NULL,
    note      text NOT NULL DEFAULT ''
);

ALTER TABLE cases
    ADD COLUMN priority text NOT NULL DEFAULT 'normal',
    ADD COLUMN sla_policy_id integer,
    ADD COLUMN forwarded_at timestamptz,
    ADD COLUMN accepted_at timestamptz,
    ADD COLUMN first_response_at timestamptz,
    ADD COLUMN resolved_at timestamptz,
    ADD COLUMN sla_state text NOT NULL DEFAULT 'ok' CHECK (sla_state IN ('ok', 'at_risk', 'overdue')),
    ADD COLUMN clock_paused_at timestamptz,
    ADD COLUMN paused_seconds bigint NOT NULL DEFAULT 0,
    ADD COLUMN assignee bigint REFERENCES staff_users(id),
    ADD COLUMN assigned_at timestamptz,
    ADD COLUMN duplicate_score real;

-- The clock stops while a case waits for the citizen; each pause is kept.
CREATE TABLE case_pauses (
    id          bigserial PRIMARY KEY,
    case_id     bigint NOT NULL REFERENCES cases(id),
    started_at  timestamptz NOT NULL,
    ended_at    timestamptz,
    reason      text NOT NULL DEFAULT ''
);
CREATE INDEX case_pauses_case ON case_pauses (case_id);

-- Open cases by deadline, for the escalation cron.
CREATE INDEX cases_due ON cases (due_at) WHERE due_at IS NOT NULL AND status IN ('forwarded', 'in_progress', 'reopened', 'triage');
-- Duplicate candidates: open cases of a field near a point, or in a ward, recently.
CREATE INDEX cases_open_point ON cases USING gist (point(lon, lat))
    WHERE lat IS NOT NULL AND status IN ('received', 'triage', 'forwarded', 'in_progress', 'reopened');
CREATE INDEX cases_open_ward ON cases (field, ward_code, id DESC)
    WHERE ward_code IS NOT NULL AND status IN ('received', 'triage', 'forwarded', 'in_progress', 'reopened');
CREATE INDEX cases_duplicate_of ON cases (duplicate_of) WHERE duplicate_of IS NOT NULL;
CREATE INDEX cases_assignee ON cases (assignee) WHERE assignee IS NOT NULL;

-- Staff skills, capacity and presence for assignment inside a unit.
ALTER TABLE staff_users
    ADD COLUMN fields text[],             -- NULL: every field
    ADD COLUMN languages text[] NOT NULL DEFAULT '{vi}',
    ADD COLUMN capacity integer NOT NULL DEFAULT 10,
    ADD COLUMN available boolean NOT NULL DEFAULT false,
    ADD COLUMN last_seen_at timestamptz;

-- Notices for units and supervisors (at risk, overdue, not accepted in time).
CREATE TABLE notifications (
    id           bigserial PRIMARY KEY,
    case_id      bigint NOT NULL REFERENCES cases(id),
    department   text,             -- the unit to notify, or NULL for supervisors
    audience     text NOT NULL CHECK (audience IN ('unit', 'supervisors')),
    kind         text NOT NULL,
    deadline     timestamptz,
    message      text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    read_at      timestamptz,
    UNIQUE NULLS NOT DISTINCT (case_id, audience, kind, deadline)
);
