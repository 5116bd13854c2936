-- PostgreSQL is the queue for the work whose rows it already holds: cases waiting to be processed
-- and the outbox. Workers claim batches with FOR UPDATE SKIP LOCKED, so any number of them share the
-- work, nothing is lost between two stores, and the rows of a worker that dies are free again the
-- moment its connection drops. A failed try waits until its back-off time has passed.
ALTER TABLE cases ADD COLUMN process_after timestamptz;
CREATE INDEX cases_unprocessed ON cases (id) WHERE processed_at IS NULL;

ALTER TABLE messages ADD COLUMN next_attempt_at timestamptz;
DROP INDEX IF EXISTS messages_outbox;
CREATE INDEX messages_outbox ON messages (id) WHERE direction = 'out' AND status IN ('queued', 'sending');
