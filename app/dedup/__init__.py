"""Deduplication of signals into opportunities: pure functions, no database.

``decide(new, candidates, corpus, model, max_age_days)`` says whether a new signal re-posts an earlier one,
names an opportunity, joins one of its account's open opportunities (a calibrated probability at or above the
merge threshold), or starts a new one with or without duplicate candidates for a person to decide, and why.
"""
