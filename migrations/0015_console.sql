-- The staff console's live updates: every change to a case, its messages or its events is announced on the
-- channel `hotline_cases` with the case id as the payload. Each web process LISTENs once and tells its
-- Server-Sent Events clients which rows to fetch again. NOTIFY is sent at commit, and PostgreSQL folds equal
-- payloads of one transaction into one, so a busy transaction announces a case once.
CREATE FUNCTION notify_case_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'cases' THEN
        PERFORM pg_notify('hotline_cases', NEW.id::text);
    ELSIF NEW.case_id IS NOT NULL THEN
        PERFORM pg_notify('hotline_cases', NEW.case_id::text);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER cases_notify AFTER INSERT OR UPDATE ON cases
    FOR EACH ROW EXECUTE FUNCTION notify_case_change();
CREATE TRIGGER messages_notify AFTER INSERT OR UPDATE ON messages
    FOR EACH ROW EXECUTE FUNCTION notify_case_change();
CREATE TRIGGER case_events_notify AFTER INSERT ON case_events
    FOR EACH ROW EXECUTE FUNCTION notify_case_change();
