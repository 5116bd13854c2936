-- Reports (issue 11): one row of facts per case, projected from its event log (casework/reports/facts.py),
-- so any past period can be recomputed and every figure matches the cases it counts (docs/metrics.md).

CREATE TABLE case_facts (
    case_id              bigint PRIMARY KEY REFERENCES cases(id),
    received_at          timestamptz NOT NULL,
    channel              text NOT NULL,
    field                text,
    ward_code            text,
    unit                 text,              -- NULL: the 1022 centre (triage, never forwarded)
    forwarded_at         timestamptz,       -- the first time the case went to a unit
    first_response_at    timestamptz,       -- the first staff reply to the citizen
    resolved_at          timestamptz,       -- the first move to answered or closed
    reopened_at          timestamptz,       -- the first move to reopened after resolved_at
    due_at               timestamptz,       -- the deadline in force at resolved_at (the latest if unresolved)
    duplicate_at         timestamptz,       -- when it became a duplicate, if it still is one
    rating               smallint,          -- the latest 1-5
    solved               boolean,           -- the latest "solved?" answer
    rated_at             timestamptz,       -- when the latest rating came
    forward_work_min     double precision,  -- working minutes from receipt, pauses taken out
    response_work_min    double precision,
    resolution_work_min  double precision,
    event_count          integer NOT NULL,  -- how many events the row was computed from (a stale refresh never wins)
    refreshed_at         timestamptz NOT NULL DEFAULT now()
);
-- Every report reads one range of receipt times, the whole city's or one unit's.
CREATE INDEX case_facts_received ON case_facts (received_at);
CREATE INDEX case_facts_unit ON case_facts (unit, received_at);

-- Cases whose facts must be computed again: one row per new event, so an event committed after a refresh
-- read the log is never mistaken for one it saw (the refresh deletes exactly the rows of the events it read).
-- event_id 0 stands for the whole case (the backfill below, `hotline report rebuild`). No unique key is
-- shared between two writers, so an event's insert never waits on another transaction here.
CREATE TABLE report_pending (
    case_id   bigint NOT NULL REFERENCES cases(id),
    event_id  bigint NOT NULL,
    PRIMARY KEY (case_id, event_id)
);

CREATE FUNCTION report_pending_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO report_pending (case_id, event_id) VALUES (NEW.case_id, NEW.id);
    RETURN NULL;
END
$$;

CREATE TRIGGER case_events_report AFTER INSERT ON case_events
    FOR EACH ROW EXECUTE FUNCTION report_pending_event();

INSERT INTO report_pending (case_id, event_id) SELECT id, 0 FROM cases;
