-- The console's reads over a million cases (bench/console.py): the map, the dashboard and the inbox filters
-- that had no index of their own.
--
-- Open cases by unit, ward, status and deadline state, with what the dashboard counts: the queues, the
-- deadlines by unit and the map's counts per ward are read from this index alone (open cases are a small
-- share of all cases, and intake writes one entry per case).
CREATE INDEX cases_open_board ON cases (department, ward_code, status, sla_state) INCLUDE (accepted_at, field)
    WHERE status IN ('received', 'triage', 'forwarded', 'in_progress', 'reopened');
-- The map's points: open cases with a location, newest first, all units or one, read from the index alone
-- (open cases are spread over the whole table, so fetching each row would cost a page read per point).
CREATE INDEX cases_open_located ON cases (department, id DESC)
    INCLUDE (tracking_code, status, field, urgent, ward_code, lat, lon, sla_state)
    WHERE lat IS NOT NULL AND lon IS NOT NULL AND status IN ('received', 'triage', 'forwarded', 'in_progress', 'reopened');
CREATE INDEX cases_open_located_all ON cases (id DESC)
    INCLUDE (tracking_code, status, field, urgent, ward_code, lat, lon, sla_state)
    WHERE lat IS NOT NULL AND lon IS NOT NULL AND status IN ('received', 'triage', 'forwarded', 'in_progress', 'reopened');
-- Each person's open load (the dashboard's staff table, the "mine" queue).
CREATE INDEX cases_open_assignee ON cases (assignee, status)
    WHERE assignee IS NOT NULL AND status IN ('received', 'triage', 'forwarded', 'in_progress', 'reopened');
-- Inbox filters by ward and by channel, newest first (keyset pages).
CREATE INDEX cases_ward ON cases (ward_code, id DESC) WHERE ward_code IS NOT NULL;
CREATE INDEX cases_channel ON cases (channel, id DESC);
CREATE INDEX cases_urgent ON cases (id DESC) WHERE urgent;
