"""Escalation ladder: who is told when, before and after an SLA breach (R12, R21)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from sla.calendar import WorkingCalendar, require_aware
from sla.policy import Channel

__all__ = ["Level", "Step", "FractionRung", "OverdueRung", "LadderPolicy", "build_ladder"]

_ZERO = timedelta(0)


class Level(str, Enum):
    ISSUER = "issuer"
    COMMUNITY_HEAD = "community_head"
    COUNTY = "county"
    CITY = "city"
    PROVINCE = "province"


@dataclass(frozen=True)
class Step:
    name: str
    level: Level
    at: datetime


@dataclass(frozen=True)
class FractionRung:
    """Fires when ``fraction`` of the SLA's duration has elapsed (0 < fraction < 1)."""

    name: str
    level: Level
    fraction: float

    def __post_init__(self) -> None:
        if not 0 < self.fraction < 1:
            raise ValueError(f"fraction of {self.name!r} must lie strictly between 0 and 1")


@dataclass(frozen=True)
class OverdueRung:
    """Fires ``working_days`` full working days (of working time) after the breach, if unresolved."""

    name: str
    level: Level
    working_days: float

    def __post_init__(self) -> None:
        if self.working_days <= 0:
            raise ValueError(f"working_days of {self.name!r} must be positive")


@dataclass(frozen=True)
class LadderPolicy:
    fraction_rungs: tuple[FractionRung, ...] = (
        FractionRung("reminder_50", Level.ISSUER, 0.5),
        FractionRung("warn_80", Level.COMMUNITY_HEAD, 0.8),
    )
    breach_name: str = "breach"
    breach_level: Level = Level.COUNTY
    overdue_rungs: tuple[OverdueRung, ...] = (
        OverdueRung("city_1wd", Level.CITY, 1),
        OverdueRung("province_2wd", Level.PROVINCE, 2),
    )


def build_ladder(
    *,
    started_at: datetime,
    due_at: datetime,
    channel: Channel,
    calendar: WorkingCalendar,
    policy: LadderPolicy = LadderPolicy(),
    paused_total: timedelta = _ZERO,
) -> list[Step]:
    """All steps of one case's ladder, sorted by ``at`` (ties keep the policy's order).

    ``paused_total`` (from a resumed Clock) is excluded from the SLA's duration and
    pushes the fraction steps back by the same amount; that is exact for every step
    still ahead at resume time (a pause that ends before a step lies wholly before it).
    """
    require_aware(started_at, "started_at")
    require_aware(due_at, "due_at")
    if due_at < started_at:
        raise ValueError("due_at precedes started_at")
    channel = Channel(channel)
    tz = calendar.tz
    started, due = started_at.astimezone(tz), due_at.astimezone(tz)
    steps: list[Step] = []

    if channel is Channel.ONLINE:
        duration = calendar.working_time_between(started, due) - paused_total
    else:
        duration = due - started - paused_total
    # A counter case due immediately has no "half-way": skip the fraction rungs.
    if duration > _ZERO:
        for rung in policy.fraction_rungs:
            offset = duration * rung.fraction + paused_total
            at = calendar.add_working_time(started, offset) if channel is Channel.ONLINE else started + offset
            steps.append(Step(rung.name, rung.level, at))

    steps.append(Step(policy.breach_name, policy.breach_level, due))
    # Overdue rungs count supervisors' working days, whatever the channel.
    day = calendar.hours.day_length
    for overdue in policy.overdue_rungs:
        steps.append(Step(overdue.name, overdue.level, calendar.add_working_time(due, day * overdue.working_days)))

    return sorted(steps, key=lambda step: step.at)
