"""repo.Cover: the signed period rows a report sums for a range of days must count each day of the range once and
every other day not at all, whichever periods the cost model (and its horizon, after which no rows are expected)
picks."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta

from app.reports.repo import Cover, Range, _period_ceil

GROUPS = ("", "month", "quarter")


def _days(first: date, end: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((end - first).days)]


def _net(cover: Cover) -> Counter[date]:
    """Each day's signed count over the cover's segments."""
    net: Counter[date] = Counter()
    for unit, sign, first, end in cover.segments:
        assert first < end and _period_ceil(first, unit) == first and _period_ceil(end, unit) == end, (unit, first)
        for day in _days(first, end):
            net[day] += sign
    return Counter({day: n for day, n in net.items() if n})


def _range(start: date, end: date) -> Range:
    return Range(
        datetime(start.year, start.month, start.day, tzinfo=UTC), datetime(end.year, end.month, end.day, tzinfo=UTC)
    )


def test_every_cover_counts_each_day_of_the_range_once_and_no_other() -> None:
    rng = random.Random(3)
    origin = date(2024, 1, 1)
    for _ in range(400):
        start = origin + timedelta(days=rng.randint(0, 900))
        end = start + timedelta(days=rng.randint(1, 800))
        horizon = start + timedelta(days=rng.randint(-30, 900))
        for group in GROUPS:
            cover = Cover.of(_range(start, end), group, horizon=horizon)
            assert _net(cover) == Counter(dict.fromkeys(_days(start, end), 1)), (start, end, horizon, group)


def test_a_year_to_today_reads_no_period_after_today_but_empty_days() -> None:
    """The 365 days to 2026-12-06, asked on that day: the year 2026 minus the days from 2026-12-07, which hold no
    rows, instead of minus December 2026 plus its first six days (read twice: the month's rows and the days')."""
    cover = Cover.of(_range(date(2025, 12, 7), date(2026, 12, 7)), horizon=date(2026, 12, 7))
    assert set(cover.segments) == {
        ("year", 1, date(2026, 1, 1), date(2027, 1, 1)),
        ("month", 1, date(2025, 12, 1), date(2026, 1, 1)),
        ("day", -1, date(2025, 12, 1), date(2025, 12, 7)),
        ("day", -1, date(2026, 12, 7), date(2027, 1, 1)),
    }
    later = Cover.of(_range(date(2025, 12, 7), date(2026, 12, 7)), horizon=date(2027, 6, 1))
    assert ("month", -1, date(2026, 12, 1), date(2027, 1, 1)) in later.segments  # with rows after the range
