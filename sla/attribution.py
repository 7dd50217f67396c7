"""Delay responsibility (R13): who held the case for how long, and who held it at the breach.

Modelled on Zendesk's group SLA: each holding (community or unit) accrues the time the
case sat with it, measured like the case's own clock (working time online, clock
time at the counter).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sla.calendar import WorkingCalendar, require_aware
from sla.policy import Channel

__all__ = ["Holding", "ownership", "responsible_holder"]

HOLDER_KINDS = ("community", "unit")


@dataclass(frozen=True)
class Holding:
    """The case sat with one community or unit over [start, end); end None = still there."""

    holder_kind: str
    holder_code: str
    start: datetime
    end: datetime | None = None

    def __post_init__(self) -> None:
        if self.holder_kind not in HOLDER_KINDS:
            raise ValueError(f"holder_kind must be one of {HOLDER_KINDS}, got {self.holder_kind!r}")
        require_aware(self.start, "start")
        if self.end is not None:
            require_aware(self.end, "end")
            if self.end < self.start:
                raise ValueError(f"holding of {self.holder_code} ends before it starts")


def ownership(
    *,
    holdings: Sequence[Holding],
    until: datetime,
    calendar: WorkingCalendar,
    channel: Channel,
) -> list[tuple[str, str, timedelta]]:
    """(kind, code, time held up to ``until``) per holder, merged, in order of first holding.

    Holdings starting at or after ``until`` are left out; open holdings run to ``until``.
    """
    require_aware(until, "until")
    channel = Channel(channel)
    totals: dict[tuple[str, str], timedelta] = {}
    for h in sorted(holdings, key=lambda h: h.start):
        if h.start >= until:
            continue
        end = until if h.end is None or h.end > until else h.end
        if channel is Channel.ONLINE:
            held = calendar.working_time_between(h.start, end)
        else:
            held = end - h.start
        key = (h.holder_kind, h.holder_code)
        totals[key] = totals.get(key, timedelta(0)) + held
    return [(kind, code, held) for (kind, code), held in totals.items()]


def responsible_holder(*, holdings: Sequence[Holding], breach_at: datetime) -> Holding:
    """The holding in force at the breach: the last one starting at or before it."""
    require_aware(breach_at, "breach_at")
    candidates = [h for h in holdings if h.start <= breach_at]
    if not candidates:
        raise ValueError(f"no holding starts at or before the breach at {breach_at.isoformat()}")
    # max() keeps the first of equal starts; we want the later-listed handover, hence the index.
    return max(enumerate(candidates), key=lambda pair: (pair[1].start, pair[0]))[1]
