-- One definition of an open case (kernel.cases.OPEN_STATUSES): the deadline index now covers the
-- same statuses as the duplicate-search indexes of 0003, so every "open" query can use it.
DROP INDEX IF EXISTS cases_due;
CREATE INDEX cases_due ON cases (due_at)
    WHERE due_at IS NOT NULL AND status IN ('received', 'triage', 'forwarded', 'in_progress', 'reopened');
