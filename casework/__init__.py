"""Cases: intake, lifecycle, replies, notes and the audit trail."""
