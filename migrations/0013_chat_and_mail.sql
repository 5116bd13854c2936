-- Chat and mail: edited messages keep their history, some items are not acknowledged (auto-replies,
-- bounces), citizens rate an answer.

-- Earlier versions of an edited inbound message, oldest first: [{"text": ..., "replaced_at": ...}].
ALTER TABLE messages ADD COLUMN edits jsonb NOT NULL DEFAULT '[]'::jsonb;

-- false: the case gets no acknowledgement (an auto-reply, a mailer daemon: answering would loop).
ALTER TABLE cases ADD COLUMN acknowledge boolean NOT NULL DEFAULT true;

-- A citizen's rating of the answer to their case (1-5), or "not solved"; one per case, the last wins.
CREATE TABLE case_ratings (
    case_id     bigint PRIMARY KEY REFERENCES cases(id),
    rating      smallint CHECK (rating BETWEEN 1 AND 5),
    solved      boolean NOT NULL,
    channel     text NOT NULL,
    rated_at    timestamptz NOT NULL,
    CHECK (rating IS NOT NULL OR NOT solved)
);
