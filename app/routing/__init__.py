"""Routing: who must react to a new opportunity, by when, and the escalation when nobody does."""
