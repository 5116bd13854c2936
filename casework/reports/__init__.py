"""Reports (issue 11): SLA and DTI figures from the case event log; formulas and time rules in docs/metrics.md.

Public names (other packages build on these):
- periods: `Period(start, end, label)` (UTC, [start, end)); `monthly(year, month)` (the city's month, 12:00 on
  the 25th to 12:00 on the 25th, Vietnam time), `quarter(year, q)`, `between(date_from, date_to)` (local dates,
  both included), `parse_month("2026-11")`, `parse_quarter("2026-Q4")`, `parse_date`, `current_month(now)`,
  `current_quarter(now)`, `sla_period(month=, date_from=, date_to=, now=)`, `dti_period(quarter_text=, now=)`.
  Bad input raises kernel.errors.BadRequest({"field", "message"}).
"""
