-- Idempotency keys for staff writes (replies, notes, status changes): a request retried after a
-- timeout, a double click or a second tab with the same key is answered with the first result and
-- changes nothing. Keys are scoped to the staff member who sent them; the row is written in the
-- same transaction as the change it stands for, so a rolled-back change leaves no key behind.
CREATE TABLE staff_requests (
    actor_id        bigint NOT NULL REFERENCES staff_users (id),
    idempotency_key text NOT NULL,
    action          text NOT NULL,
    case_id         bigint NOT NULL REFERENCES cases (id),
    request_hash    text NOT NULL,
    result          jsonb NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (actor_id, idempotency_key)
);
CREATE INDEX staff_requests_created_at ON staff_requests USING brin (created_at);
