"""The staff web console (agents, departments, supervisors)."""
