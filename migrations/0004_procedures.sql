-- The administrative-procedure catalogue (thủ tục hành chính), imported from the national portal's
-- records by `hotline procedures import`, and the top procedures suggested for a case.

-- One row per procedure code (ma_thu_tuc). `detailed` is true for a full record (JSONL) and false for
-- a summary row (CSV): a summary never overwrites a full record, so re-importing the summary after
-- the records keeps the documents and fees.
CREATE TABLE procedures (
    code             text PRIMARY KEY,
    name             text NOT NULL,
    field            text NOT NULL DEFAULT '',
    level            text NOT NULL DEFAULT '',
    agency           text NOT NULL DEFAULT '',
    processing_time  text,
    fees             text,
    documents        jsonb NOT NULL DEFAULT '[]'::jsonb,
    channels         text[] NOT NULL DEFAULT '{}',
    where_to_apply   text,
    link             text,
    source           text NOT NULL DEFAULT '',
    detailed         boolean NOT NULL DEFAULT false,
    search_text      text NOT NULL,
    -- Stored, unlike the cases' expression index: the catalogue is written once per import and read
    -- on every search, where rechecking and ranking candidates would otherwise re-parse their text.
    search_vector    tsvector GENERATED ALWAYS AS (to_tsvector('simple', search_text)) STORED,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
-- Citizen search: the words of the folded name, field and keywords. No pending list (fastupdate):
-- imports are rare and batched, and a search would otherwise scan the pending list until a vacuum.
CREATE INDEX procedures_search ON procedures USING gin (search_vector) WITH (fastupdate = off);

-- The top three procedures for an admin_procedures case, for agents and chat replies.
ALTER TABLE cases ADD COLUMN procedure_suggestions jsonb;
