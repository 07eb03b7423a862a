"""Adoption over time: is reporting signals part of everyday work? Never commits.

- Active contributors per week and function, as a share of staff where headcounts were imported, and how many of
  them had reported before (the participation report's weekly rows, read the same way).
- Over the last 90 days up to ``to``: people who reported, per function and as a share of staff.
- Repeat rate over the range: of the people who reported, the share who did so in two or more weeks.
- Median time from an opportunity's first signal to its first reaction (as defined in ``app.routing.reaction``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import Session

from app.reports.repo import Range, ReportRepo

RECENT_DAYS = 90


def _share(part: int, whole: int | None) -> float | None:
    return round(part / whole, 4) if whole else None


def adoption(session: Session, r: Range) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    repo = ReportRepo(session)
    staff = repo.staff("function")
    rows = [
        dict(
            week=week,
            function=function,
            active_contributors=active,
            staff=staff.get(function),
            share_of_staff=_share(active, staff.get(function)),
            repeat_contributors=repeat,
            repeat_rate=_share(repeat, active),
        )
        for week, function, active, repeat in repo.participation("function", "week", r)
    ]
    recent = Range(r.end - timedelta(days=RECENT_DAYS), r.end)
    active = repo.active_by_function(recent)
    contributors, repeaters = repo.repeat_contributors(r)
    opportunities, reacted, median = repo.reactions(r)
    summary = {
        "last_90_days": {
            "from": recent.start.date().isoformat(),
            "contributors": sum(active.values()),
            "by_function": {
                f: {"contributors": n, "staff": staff.get(f), "share_of_staff": _share(n, staff.get(f))}
                for f, n in sorted({**dict.fromkeys(staff, 0), **active}.items())
            },
            # Of the staff in functions with an imported headcount, the share who reported.
            "share_of_staff": _share(sum(active.get(f, 0) for f in staff), sum(staff.values()) or None),
        },
        "contributors": contributors,
        "repeat_rate": _share(repeaters, contributors),
        "opportunities": opportunities,
        "reacted": reacted,
        "median_hours_to_first_reaction": None if median is None else round(median / 3600, 2),
    }
    return rows, summary
