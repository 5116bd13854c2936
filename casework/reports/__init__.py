"""Reports (issue 11): SLA and DTI figures from the case event log; formulas and time rules in docs/metrics.md.

Public names (other packages build on these):

- `periods`: `Period(start, end, label)` (UTC-aware, [start, end)); `monthly(year, month)` (the city's
  month: 12:00 on the 25th of the month before to 12:00 on the 25th, Vietnam time; label "2026-11"),
  `quarter(year, q)` (label "2026-Q4"), `between(date_from, date_to)` (local dates, both included; label
  "2026-11-01..2026-11-30"), `parse_month("2026-11")`, `parse_quarter("2026-Q4")`, `parse_date(value, field)`,
  `current_month(now)`, `current_quarter(now)`, `sla_period(month=, date_from=, date_to=, now=)` (what an SLA
  request names; default the current month), `dti_period(quarter_text=, now=)`. Bad input raises
  kernel.errors.BadRequest({"field", "message"}).
- `facts`: `CaseFacts` (case_id, received_at, channel, field, ward_code, unit, forwarded_at,
  first_response_at, resolved_at, reopened_at, due_at, duplicate_at, rating, solved, rated_at,
  forward_work_min, response_work_min, resolution_work_min, event_count) and the pure
  `facts_from_events(case, events, clock)`.
- `store`: `refresh_facts(pool, clock, *, limit=500, max_cases=None) -> int` (computes every case with new
  events), `queue_all(pool)` (marks every case, for a rebuild), `pending_count(pool)`, `case_facts(pool, ids)`,
  `aggregate(...)`, `unit_names`, `ward_names`, `CHORE_CASES`, `ONLINE_CHANNELS`.
- `sla`: `GROUPS = ("unit", "field", "channel", "ward")`; `Durations(count, median_clock_min, p90_clock_min,
  median_work_min, p90_work_min, mean_clock_min, mean_work_min)`; `Figures(key, received, handled,
  handled_on_time, handled_late, overdue_open, overdue, in_progress, no_deadline, duplicates, on_time_rate,
  forwarded, forwarded_within_5min, forward_rule_rate, time_to_forward, first_response, resolution, reopened,
  reopen_rate, ratings, rating_mean, satisfied_share, solved_share, online, online_share, within_legal_limit,
  within_legal_rate)`; `RankedUnit(rank, key, on_time_rate, handled)`; `Ranking(min_handled, ranked, top,
  bottom)` (bottom: worst first); `SlaReport(period, by, total, rows, names, ranking, computed_at, as_of, unit)`
  with `.as_dict()` (JSON-ready, each row with name_vi/name_en); `DtiFigures(unit, period_label, received,
  on_time_rate, avg_handling_work_hours, online_share, satisfaction, reopen_rate, within_legal_rate, name_vi,
  name_en)` with `.as_dict()`;
  `async sla_report(pool, period, by, *, unit=None, clock, now, legal_answer_days=10, min_handled=10,
  refresh=True) -> SlaReport`; `async dti_report(pool, period, *, unit=None, clock, now, legal_answer_days=10,
  refresh=True) -> list[DtiFigures]` (the city first, unit None; with `unit`, that unit's row only);
  `check_group(by)`, `unit_exists(pool, code)`, `rank_units(rows, min_handled)`, `legal_work_minutes(clock,
  days)`, `CHANNEL_LABELS`, `NO_UNIT`, `NO_FIELD`, `NO_WARD`, `CITY`.
- `views`: GET /api/v1/stats/sla and /api/v1/stats/dti (`setup(app)`); `READERS` (department, supervisor,
  admin).

`clock` is the router's calendar (`(await services.current_router()).calendar`); `now` the services clock.
"""
