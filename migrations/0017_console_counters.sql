-- Open cases counted for the console's map (all units) and the supervisors' dashboard, kept exact by triggers.
--
-- Counting the ~160k open cases of a city's year on every read took 35-50 ms (bench/console.py at 1M cases).
-- Instead every change to an open case appends its contribution to console_open_deltas: -1 for the row as it
-- was, +1 for the row as it is (only inserts, so no two transactions ever wait on a shared counter row, and a
-- rolled-back change rolls its deltas back with it). console_fold_open_counts() moves the committed deltas
-- into three small rollups in one statement; a reader sums rollup + pending deltas in one statement, so it sees
-- exactly the open cases of its snapshot whether or not a fold ran before it.
--
-- Exact as long as the triggers fire: a bulk load with session_replication_role = replica (bench/console.py)
-- or with triggers disabled must call console_rebuild_open_counts() afterwards. A full pg_dump/pg_restore is
-- exact as it is (the rollups are restored as data, the triggers created after the data).

CREATE TABLE console_open_deltas (
    department  text,
    ward_code   text,
    field       text,
    status      text NOT NULL,
    sla_state   text NOT NULL,
    unaccepted  boolean NOT NULL,
    assignee    bigint,
    n           integer NOT NULL
);

-- The map of all units: open cases per ward and field (a NULL ward: cases without one).
CREATE TABLE console_open_wards (
    ward_code  text,
    field      text,
    n          bigint NOT NULL,
    UNIQUE NULLS NOT DISTINCT (ward_code, field)
);

-- The dashboard: open cases per unit, status, deadline state and acceptance (a NULL unit: not yet routed).
CREATE TABLE console_open_units (
    department  text,
    status      text NOT NULL,
    sla_state   text NOT NULL,
    unaccepted  boolean NOT NULL,
    n           bigint NOT NULL,
    UNIQUE NULLS NOT DISTINCT (department, status, sla_state, unaccepted)
);

-- The dashboard's staff table: each person's open assigned cases.
CREATE TABLE console_open_assignees (
    assignee  bigint PRIMARY KEY,
    n         bigint NOT NULL
);

CREATE FUNCTION console_open_delta() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.status IN ('received', 'triage', 'forwarded', 'in_progress', 'reopened') THEN
        INSERT INTO console_open_deltas (department, ward_code, field, status, sla_state, unaccepted, assignee, n)
        VALUES (OLD.department, OLD.ward_code, OLD.field, OLD.status, OLD.sla_state, OLD.accepted_at IS NULL,
                OLD.assignee, -1);
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.status IN ('received', 'triage', 'forwarded', 'in_progress', 'reopened') THEN
        INSERT INTO console_open_deltas (department, ward_code, field, status, sla_state, unaccepted, assignee, n)
        VALUES (NEW.department, NEW.ward_code, NEW.field, NEW.status, NEW.sla_state, NEW.accepted_at IS NULL,
                NEW.assignee, 1);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER cases_open_count AFTER INSERT OR DELETE ON cases
    FOR EACH ROW EXECUTE FUNCTION console_open_delta();
-- No column list: a column-specific trigger misses a column that a BEFORE trigger changes.
CREATE TRIGGER cases_open_count_update AFTER UPDATE ON cases
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.department IS DISTINCT FROM NEW.department
                       OR OLD.ward_code IS DISTINCT FROM NEW.ward_code OR OLD.field IS DISTINCT FROM NEW.field
                       OR OLD.sla_state IS DISTINCT FROM NEW.sla_state OR OLD.assignee IS DISTINCT FROM NEW.assignee
                       OR (OLD.accepted_at IS NULL) <> (NEW.accepted_at IS NULL))
    EXECUTE FUNCTION console_open_delta();

-- Move the committed deltas into the rollups; one folder at a time (a busy one is skipped: the deltas wait).
-- The advisory key 1022_0017 is this migration's number, beside the worker's 1022_000N (hotline/worker.py).
CREATE FUNCTION console_fold_open_counts() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    moved bigint;
BEGIN
    IF NOT pg_try_advisory_xact_lock(10220017) THEN
        RETURN 0;
    END IF;
    WITH d AS (DELETE FROM console_open_deltas RETURNING *),
    w AS (
        INSERT INTO console_open_wards AS t (ward_code, field, n)
        SELECT ward_code, field, sum(n) FROM d GROUP BY ward_code, field
        ON CONFLICT (ward_code, field) DO UPDATE SET n = t.n + excluded.n
    ),
    u AS (
        INSERT INTO console_open_units AS t (department, status, sla_state, unaccepted, n)
        SELECT department, status, sla_state, unaccepted, sum(n) FROM d GROUP BY department, status, sla_state, unaccepted
        ON CONFLICT (department, status, sla_state, unaccepted) DO UPDATE SET n = t.n + excluded.n
    ),
    a AS (
        INSERT INTO console_open_assignees AS t (assignee, n)
        SELECT assignee, sum(n) FROM d WHERE assignee IS NOT NULL GROUP BY assignee
        ON CONFLICT (assignee) DO UPDATE SET n = t.n + excluded.n
    )
    SELECT count(*) INTO moved FROM d;
    IF moved > 0 THEN
        DELETE FROM console_open_wards WHERE n = 0;
        DELETE FROM console_open_units WHERE n = 0;
        DELETE FROM console_open_assignees WHERE n = 0;
    END IF;
    RETURN moved;
END
$$;

-- Count again from the cases (after a load with the triggers off); writers wait while it runs.
CREATE FUNCTION console_rebuild_open_counts() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE cases IN SHARE MODE;
    PERFORM pg_advisory_xact_lock(10220017);
    DELETE FROM console_open_deltas;
    DELETE FROM console_open_wards;
    DELETE FROM console_open_units;
    DELETE FROM console_open_assignees;
    INSERT INTO console_open_wards (ward_code, field, n)
    SELECT ward_code, field, count(*) FROM cases
    WHERE status IN ('received', 'triage', 'forwarded', 'in_progress', 'reopened') GROUP BY ward_code, field;
    INSERT INTO console_open_units (department, status, sla_state, unaccepted, n)
    SELECT department, status, sla_state, accepted_at IS NULL, count(*) FROM cases
    WHERE status IN ('received', 'triage', 'forwarded', 'in_progress', 'reopened')
    GROUP BY department, status, sla_state, accepted_at IS NULL;
    INSERT INTO console_open_assignees (assignee, n)
    SELECT assignee, count(*) FROM cases
    WHERE assignee IS NOT NULL AND status IN ('received', 'triage', 'forwarded', 'in_progress', 'reopened')
    GROUP BY assignee;
END
$$;

CREATE FUNCTION console_clear_open_counts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(10220017);  -- after a fold that is under way, never beside it
    DELETE FROM console_open_deltas;
    DELETE FROM console_open_wards;
    DELETE FROM console_open_units;
    DELETE FROM console_open_assignees;
    RETURN NULL;
END
$$;

CREATE TRIGGER cases_open_count_truncate AFTER TRUNCATE ON cases
    FOR EACH STATEMENT EXECUTE FUNCTION console_clear_open_counts();

SELECT console_rebuild_open_counts();

-- The map's points of one field over all units (?field=), newest first from the index alone: through
-- cases_open_located_all a rare field's 5,000 newest meant filtering most open cases (39 ms at 1M cases).
CREATE INDEX cases_open_located_field ON cases (field, id DESC)
    INCLUDE (tracking_code, status, urgent, ward_code, lat, lon, sla_state)
    WHERE lat IS NOT NULL AND lon IS NOT NULL AND status IN ('received', 'triage', 'forwarded', 'in_progress', 'reopened');
