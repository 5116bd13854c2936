-- 0019's backfill can leave millions of never-analysed rows in report_pending; without statistics the
-- refresh's delete falls to a generic plan that takes seconds a batch (bench/reports.py). Analyse once.
ANALYZE report_pending;
