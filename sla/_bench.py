"""Throughput of due-time computation (R11, 6 working hours): `make bench` calls bench()."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sla.calendar import WorkingCalendar
from sla.policy import Channel, compute_due


def _submissions(count: int) -> list[datetime]:
    # Spread over 2026 at odd minutes so the mix covers nights, lunches, weekends and
    # holidays (incl. the Spring Festival and National Day runs), not one warm date.
    base = datetime(2026, 1, 1, tzinfo=ZoneInfo("Asia/Shanghai"))
    step = timedelta(minutes=337)
    return [base + step * i for i in range(count)]


def bench(n: int = 100_000) -> float:
    """Due-time computations per second on one core (a benchmark may read the clock)."""
    calendar = WorkingCalendar()
    starts = _submissions(1_000)
    for s in starts:  # warm the per-date caches, as a long-running worker would be
        compute_due(submitted_at=s, channel=Channel.ONLINE, calendar=calendar)
    k = len(starts)
    t0 = time.perf_counter()
    for i in range(n):
        compute_due(submitted_at=starts[i % k], channel=Channel.ONLINE, calendar=calendar)
    return n / (time.perf_counter() - t0)


if __name__ == "__main__":
    print(f"{bench():,.0f} due-time computations/s")
