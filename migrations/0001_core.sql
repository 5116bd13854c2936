-- Core schema: citizens and their channel identities, messages (the inbox and the outbox),
-- cases with an append-only event log, departments and staff.

CREATE TABLE departments (
    code        text PRIMARY KEY,
    name_vi     text NOT NULL,
    name_en     text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('department', 'agency', 'ward', 'hotline')),
    ward_code   text,
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE citizens (
    id            bigserial PRIMARY KEY,
    display_name  text,
    locale        text NOT NULL DEFAULT 'vi',
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- One citizen across channels: a phone number, an email address or a chat id each point to one citizen.
CREATE TABLE citizen_identities (
    id          bigserial PRIMARY KEY,
    citizen_id  bigint NOT NULL REFERENCES citizens(id),
    kind        text NOT NULL CHECK (kind IN ('phone', 'email', 'telegram', 'zalo', 'web')),
    value       text NOT NULL,
    verified    boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kind, value)
);
CREATE INDEX citizen_identities_citizen ON citizen_identities (citizen_id);

CREATE TABLE cases (
    id                  bigserial PRIMARY KEY,
    tracking_code       text NOT NULL UNIQUE,
    status              text NOT NULL DEFAULT 'received' CHECK (status IN
                        ('received', 'triage', 'forwarded', 'in_progress', 'answered', 'closed',
                         'rejected', 'reopened', 'duplicate')),
    channel             text NOT NULL,
    citizen_id          bigint REFERENCES citizens(id),
    description         text NOT NULL,
    search_text         text NOT NULL,
    locale              text NOT NULL DEFAULT 'vi',
    language            text,
    field               text,
    confidence          real,
    classifier_version  text,
    urgent              boolean NOT NULL DEFAULT false,
    entities            jsonb NOT NULL DEFAULT '{}'::jsonb,
    address             text,
    lat                 double precision,
    lon                 double precision,
    ward_code           text,
    geocode_confidence  real,
    department          text REFERENCES departments(code),
    routing_reason      text,
    due_at              timestamptz,
    deadline_reason     text,
    duplicate_of        bigint REFERENCES cases(id),
    processed_at        timestamptz,
    process_attempts    integer NOT NULL DEFAULT 0,
    process_error       text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
-- Lists are newest first by id (ids grow with time), so the id-ordered indexes serve keyset
-- pagination; a BRIN index serves date ranges at almost no cost to intake. Indexes on columns that
-- are empty at intake are partial, so intake writes fewer index entries.
CREATE INDEX cases_created ON cases USING brin (created_at);
CREATE INDEX cases_status ON cases (status, id DESC);
CREATE INDEX cases_department ON cases (department, id DESC) WHERE department IS NOT NULL;
-- Staff search: word prefixes over the folded text, tracking code and address. Full-text entries
-- (one per word) cost intake a fraction of what trigram entries (one per three letters) do.
CREATE INDEX cases_search ON cases USING gin (to_tsvector('simple', search_text));
CREATE INDEX cases_citizen ON cases (citizen_id) WHERE citizen_id IS NOT NULL;

-- Inbound and outbound messages. Inbound rows are written before the provider is acknowledged;
-- outbound rows are the outbox, sent by one job per row.
CREATE TABLE messages (
    id                   bigserial PRIMARY KEY,
    case_id              bigint REFERENCES cases(id),
    citizen_id           bigint REFERENCES citizens(id),
    direction            text NOT NULL CHECK (direction IN ('in', 'out')),
    channel              text NOT NULL,
    provider_message_id  text NOT NULL,
    request_hash         text,
    sender               text,
    identities           jsonb,
    display_name         text,
    recipient            text,
    text                 text NOT NULL DEFAULT '',
    attachments          jsonb NOT NULL DEFAULT '[]'::jsonb,
    raw                  jsonb,
    kind                 text NOT NULL DEFAULT 'message' CHECK (kind IN ('message', 'ack', 'reply', 'notice')),
    status               text NOT NULL DEFAULT 'received' CHECK (status IN
                         ('received', 'queued', 'sending', 'sent', 'delivered', 'failed')),
    attempts             integer NOT NULL DEFAULT 0,
    error                text,
    author_id            bigint,
    created_at           timestamptz NOT NULL DEFAULT now(),
    sent_at              timestamptz,
    claimed_at           timestamptz,
    external_id          text
);
-- One message per provider id and channel: a retried webhook or a replayed Idempotency-Key finds the
-- first one. Ids we draw ourselves ('auto:' + a random UUID) cannot repeat, so they skip the index.
CREATE UNIQUE INDEX messages_provider_id ON messages (channel, direction, provider_message_id)
    WHERE provider_message_id NOT LIKE 'auto:%';
CREATE INDEX messages_case ON messages (case_id, id);
CREATE INDEX messages_outbox ON messages (created_at) WHERE direction = 'out' AND status IN ('queued', 'sending');

-- Photos and files a citizen sent; kept in the database so every web process sees them.
CREATE TABLE attachments (
    id            bigserial PRIMARY KEY,
    message_id    bigint NOT NULL REFERENCES messages(id),
    filename      text NOT NULL,
    content_type  text NOT NULL,
    size          integer NOT NULL,
    sha256        text NOT NULL,
    data          bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX attachments_message ON attachments (message_id);

CREATE TABLE staff_users (
    id             bigserial PRIMARY KEY,
    username       text NOT NULL UNIQUE,
    display_name   text NOT NULL,
    role           text NOT NULL CHECK (role IN ('agent', 'department', 'supervisor', 'admin')),
    department     text REFERENCES departments(code),
    password_hash  text,
    active         boolean NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (role <> 'department' OR department IS NOT NULL)
);

CREATE TABLE api_tokens (
    id            bigserial PRIMARY KEY,
    user_id       bigint NOT NULL REFERENCES staff_users(id),
    token_hash    text NOT NULL UNIQUE,
    kind          text NOT NULL DEFAULT 'api' CHECK (kind IN ('api', 'session')),
    csrf_token    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz,
    revoked_at    timestamptz
);

-- The case history. Append-only: the trigger below refuses UPDATE and DELETE.
CREATE TABLE case_events (
    id           bigserial PRIMARY KEY,
    case_id      bigint NOT NULL REFERENCES cases(id),
    at           timestamptz NOT NULL DEFAULT now(),
    actor_kind   text NOT NULL CHECK (actor_kind IN ('system', 'staff', 'citizen')),
    actor_id     bigint,
    actor_name   text NOT NULL,
    kind         text NOT NULL,
    from_status  text,
    to_status    text,
    changes      jsonb NOT NULL DEFAULT '{}'::jsonb,
    reason       text,
    public       boolean NOT NULL DEFAULT false
);
CREATE INDEX case_events_case ON case_events (case_id, id);

CREATE FUNCTION case_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'case_events is append-only';
END $$;
CREATE TRIGGER case_events_no_update BEFORE UPDATE OR DELETE ON case_events
    FOR EACH ROW EXECUTE FUNCTION case_events_append_only();
