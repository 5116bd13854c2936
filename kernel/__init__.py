"""The shared kernel: what every bounded context uses and none owns. It imports no context.

Errors and HTTP plumbing, the jobs interface, metrics, text normalisation, time (the one time zone
and the injectable clock) and the case vocabulary every context agrees on (what "open" means).
"""
