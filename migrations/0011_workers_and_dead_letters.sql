-- Worker heartbeats: every running worker writes its row every few seconds, with when each of its loops
-- last finished a round and the kind of its last error, so /healthz and /metrics of any process can say
-- whether some worker is alive and whether its loops turn. Rows of workers that stopped beating are
-- deleted by the live ones after a while.
CREATE TABLE workers (
    id          text PRIMARY KEY,
    host        text NOT NULL,
    pid         integer NOT NULL,
    started_at  timestamptz NOT NULL,
    beat_at     timestamptz NOT NULL,
    loops       jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX workers_beat ON workers (beat_at);

-- Dead letters. Cases given up (processing failed job_max_tries times: sent to triage with the last
-- error kept in process_error) and outbox messages that failed for good are their own rows already;
-- these indexes let admins list them without reading every case and message.
CREATE INDEX cases_gave_up ON cases (id) WHERE processed_at IS NOT NULL AND process_error IS NOT NULL;
CREATE INDEX messages_failed ON messages (id) WHERE direction = 'out' AND status = 'failed';

-- arq jobs (queued in Redis) that ran out of tries, kept with their last error until an admin replays
-- them; a replayed one keeps its row, marked with who replayed it and when.
CREATE TABLE failed_jobs (
    id           bigserial PRIMARY KEY,
    job_id       text NOT NULL,
    function     text NOT NULL,
    kwargs       jsonb NOT NULL DEFAULT '{}'::jsonb,
    tries        integer NOT NULL,
    error        text NOT NULL,
    failed_at    timestamptz NOT NULL,
    replayed_at  timestamptz,
    replayed_by  bigint REFERENCES staff_users (id)
);
CREATE INDEX failed_jobs_waiting ON failed_jobs (id) WHERE replayed_at IS NULL;
