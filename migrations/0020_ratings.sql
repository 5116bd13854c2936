-- Satisfaction per answer: a case answered, reopened and answered again is rated once per answer.
--
-- `cases.answers` counts the case's answers: a move into answered or closed from any other status is
-- a new answer (answered → closed is the same one). A trigger keeps it, so every writer (a final reply,
-- a status change, a script) counts the same way without knowing of it. `answered_at` is when the
-- latest answer came: the resolved_at the same statement set (the caller's clock), else the database's.

ALTER TABLE cases ADD COLUMN answers integer NOT NULL DEFAULT 0 CHECK (answers >= 0);
ALTER TABLE cases ADD COLUMN answered_at timestamptz;

-- Cases answered before this migration: their moves into answered/closed in the event log, at least one
-- for a case answered or closed now; the latest answer's time from resolved_at, else from the log.
UPDATE cases c SET answers = greatest(e.moves, CASE WHEN c.status IN ('answered', 'closed') THEN 1 ELSE 0 END),
                   answered_at = CASE WHEN c.status IN ('answered', 'closed')
                                      THEN coalesce(c.resolved_at, e.last_at, c.updated_at) END
FROM (SELECT k.id, count(ev.id) AS moves, max(ev.at) AS last_at
      FROM cases k LEFT JOIN case_events ev ON ev.case_id = k.id AND ev.kind = 'status'
           AND ev.to_status IN ('answered', 'closed')
           AND (ev.from_status IS NULL OR ev.from_status NOT IN ('answered', 'closed'))
      GROUP BY k.id) e
WHERE e.id = c.id AND (e.moves > 0 OR c.status IN ('answered', 'closed'));

CREATE FUNCTION cases_count_answer() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.answers := greatest(NEW.answers, 1);
        NEW.answered_at := coalesce(NEW.answered_at, NEW.resolved_at, now());
    ELSE
        NEW.answers := OLD.answers + 1;
        NEW.answered_at := CASE WHEN NEW.resolved_at IS NOT NULL AND NEW.resolved_at IS DISTINCT FROM OLD.resolved_at
                                THEN NEW.resolved_at ELSE now() END;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER cases_count_answer_insert BEFORE INSERT ON cases FOR EACH ROW
    WHEN (NEW.status IN ('answered', 'closed'))
    EXECUTE FUNCTION cases_count_answer();
CREATE TRIGGER cases_count_answer_update BEFORE UPDATE OF status ON cases FOR EACH ROW
    WHEN (NEW.status IN ('answered', 'closed') AND OLD.status NOT IN ('answered', 'closed'))
    EXECUTE FUNCTION cases_count_answer();

-- One rating per answer (migration 0013 kept one per case): existing ratings are of the first answer.
ALTER TABLE case_ratings ADD COLUMN answer_no integer NOT NULL DEFAULT 1 CHECK (answer_no >= 1);
ALTER TABLE case_ratings ALTER COLUMN answer_no DROP DEFAULT;
ALTER TABLE case_ratings DROP CONSTRAINT case_ratings_pkey;
ALTER TABLE case_ratings ADD PRIMARY KEY (case_id, answer_no);
