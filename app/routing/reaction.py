"""When an opportunity was first reacted to: the one definition the escalation, the routes and the reports share.

An opportunity counts as triaged from the earliest of:
- its first stage change (a seller moved the CRM deal, read back by webhook or polling, or a tool reported one);
- its close (won, lost or not pursued, from the CRM or the outcome endpoint);
- any recorded human decision about it (``opportunity_events``: a merge, a detach, an outcome change).

Being synced to the CRM is not a reaction: the service does that on its own.
"""

from __future__ import annotations

# Compared as text on SQLite (stored as 'YYYY-MM-DD HH:MM:SS...'), so this sorts after every real time.
_NEVER = "'9999-12-31 00:00:00'"


def first_reaction_sql(dialect: str, opp: str = "o", milestone: str = "m") -> str:
    """SQL for the first reaction time of opportunity ``opp`` (NULL: none yet); ``milestone`` is the LEFT JOINed
    ``opportunity_milestones`` row."""
    parts = [
        f"COALESCE({milestone}.first_stage_changed_at, {opp}.stage_changed_at)",
        f"{opp}.closed_at",
        f"(SELECT MIN(e.created_at) FROM opportunity_events e WHERE e.opportunity_id = {opp}.id)",
    ]
    if dialect == "postgresql":
        return f"LEAST({', '.join(parts)})"  # LEAST ignores NULLs on PostgreSQL
    # SQLite's scalar MIN returns NULL if any argument is NULL.
    return f"NULLIF(MIN({', '.join(f'COALESCE({p}, {_NEVER})' for p in parts)}), {_NEVER})"
