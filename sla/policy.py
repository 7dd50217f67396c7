"""SLA policy: due times (R10, R11), the auto-issue deadline (R12) and running clocks.

Pure: callers pass every instant; nothing here reads the clock.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from enum import Enum
from zoneinfo import ZoneInfo

from sla.calendar import WorkingCalendar, require_aware

__all__ = [
    "Channel",
    "SlaPolicy",
    "Clock",
    "compute_due",
    "auto_issue_by",
    "auto_issue_at",
    "start_clock",
    "pause",
    "resume",
    "remaining",
    "fraction_elapsed",
    "sla_duration",
]

# R12 names 18:00 in the province's local time, whatever tz the working hours use.
SHANGHAI = ZoneInfo("Asia/Shanghai")
_ZERO = timedelta(0)


class Channel(str, Enum):
    ONLINE = "online"  # R11: working-hours clock
    COUNTER = "counter"  # R10: decided in the visit, or a clock-hours clock when verifying


@dataclass(frozen=True)
class SlaPolicy:
    online_working_hours: float = 6  # R11
    counter_clock_hours: float = 6  # R10, only when the counter case needs verification
    supervisor_window_working_hours: float = 2  # time given to supervisors after a breach
    auto_issue_cutoff: time = time(18, 0)  # R12, Asia/Shanghai
    warn_fractions: tuple[float, ...] = (0.5, 0.8)

    def __post_init__(self) -> None:
        for name in ("online_working_hours", "counter_clock_hours", "supervisor_window_working_hours"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if any(not 0 < f < 1 for f in self.warn_fractions):
            raise ValueError(f"warn_fractions must lie strictly between 0 and 1, got {self.warn_fractions}")


def compute_due(
    *,
    submitted_at: datetime,
    channel: Channel,
    needs_verification: bool = False,
    calendar: WorkingCalendar,
    policy: SlaPolicy = SlaPolicy(),
) -> datetime:
    """Due instant of the first decision, in the calendar's tz."""
    require_aware(submitted_at, "submitted_at")
    channel = Channel(channel)
    if channel is Channel.ONLINE:
        return calendar.add_working_hours(submitted_at, policy.online_working_hours)
    local = submitted_at.astimezone(calendar.tz)
    if needs_verification:
        # R10 says "at most 6 hours", not working hours: nights and holidays count.
        return local + timedelta(hours=policy.counter_clock_hours)
    return local  # handled immediately, in the visit


def auto_issue_by(*, breach_at: datetime, policy: SlaPolicy = SlaPolicy()) -> datetime:
    """R12's legal latest: the cutoff (18:00 Asia/Shanghai) of the calendar day after the breach.

    Calendar day, not working day: the notice says "the next day", and a holiday does
    not postpone the applicant's pass.
    """
    local_day = require_aware(breach_at, "breach_at").astimezone(SHANGHAI).date()
    return datetime.combine(local_day + timedelta(days=1), policy.auto_issue_cutoff, tzinfo=SHANGHAI)


def auto_issue_at(
    *, breach_at: datetime, calendar: WorkingCalendar, policy: SlaPolicy = SlaPolicy()
) -> datetime:
    """When the system issues by itself: after the supervisors' window, capped at R12's cutoff."""
    window_end = calendar.add_working_hours(breach_at, policy.supervisor_window_working_hours)
    return min(window_end, auto_issue_by(breach_at=breach_at, policy=policy))


# --- running clocks ----------------------------------------------------------------------


@dataclass(frozen=True)
class Clock:
    """A running SLA clock.

    Only a wait for an applicant's missing item pauses it. Reassignment to another
    issuer never restarts it (there is no restart operation), and R19 verification of
    an unknown applicant does not pause it. ``paused_total`` is working time for
    ONLINE and clock time for COUNTER; ``due_at`` already includes completed pauses.
    """

    channel: Channel
    started_at: datetime
    due_at: datetime
    paused_at: datetime | None = None
    paused_total: timedelta = _ZERO

    def __post_init__(self) -> None:
        object.__setattr__(self, "channel", Channel(self.channel))
        require_aware(self.started_at, "started_at")
        require_aware(self.due_at, "due_at")
        if self.paused_at is not None:
            require_aware(self.paused_at, "paused_at")
        if self.due_at < self.started_at:
            raise ValueError("due_at precedes started_at")
        if self.paused_total < _ZERO:
            raise ValueError("paused_total must not be negative")

    @property
    def is_paused(self) -> bool:
        return self.paused_at is not None


def _span(channel: Channel, start: datetime, end: datetime, calendar: WorkingCalendar) -> timedelta:
    """Length of [start, end) in the channel's measure; negative when end < start."""
    if channel is Channel.ONLINE:
        if end >= start:
            return calendar.working_time_between(start, end)
        return -calendar.working_time_between(end, start)
    return end - start


def start_clock(
    *,
    started_at: datetime,
    channel: Channel,
    calendar: WorkingCalendar,
    needs_verification: bool = False,
    policy: SlaPolicy = SlaPolicy(),
) -> Clock:
    due = compute_due(
        submitted_at=started_at,
        channel=channel,
        needs_verification=needs_verification,
        calendar=calendar,
        policy=policy,
    )
    return Clock(channel=Channel(channel), started_at=started_at.astimezone(calendar.tz), due_at=due)


def pause(clock: Clock, *, at: datetime) -> Clock:
    """Stop the clock while the applicant owes a missing item."""
    require_aware(at, "at")
    if clock.is_paused:
        raise ValueError(f"clock already paused since {clock.paused_at.isoformat()}")
    if at < clock.started_at:
        raise ValueError("cannot pause before the clock started")
    return replace(clock, paused_at=at)


def resume(clock: Clock, *, at: datetime, calendar: WorkingCalendar) -> Clock:
    """Restart a paused clock; the due time moves by the paused span (working or clock time)."""
    require_aware(at, "at")
    if not clock.is_paused:
        raise ValueError("clock is not paused")
    if at < clock.paused_at:
        raise ValueError("cannot resume before the pause began")
    span = _span(clock.channel, clock.paused_at, at, calendar)
    if not span:
        # Keep due_at as is: add_working_time(due, 0) would move a 12:00 due to 13:30.
        new_due = clock.due_at
    elif clock.channel is Channel.ONLINE:
        new_due = calendar.add_working_time(clock.due_at, span)
    else:
        new_due = clock.due_at + span
    return replace(clock, due_at=new_due, paused_at=None, paused_total=clock.paused_total + span)


def remaining(clock: Clock, *, at: datetime, calendar: WorkingCalendar) -> timedelta:
    """Time left until due (negative once breached); frozen while paused."""
    require_aware(at, "at")
    ref = clock.paused_at if clock.paused_at is not None and at >= clock.paused_at else at
    return _span(clock.channel, ref, clock.due_at, calendar)


def sla_duration(clock: Clock, *, calendar: WorkingCalendar) -> timedelta:
    """The SLA's own length (pauses excluded), in the channel's measure."""
    return _span(clock.channel, clock.started_at, clock.due_at, calendar) - clock.paused_total


def fraction_elapsed(clock: Clock, *, at: datetime, calendar: WorkingCalendar) -> float:
    """Share of the SLA used at ``at``: 0 at start, 1 at due, above 1 once breached."""
    total = sla_duration(clock, calendar=calendar)
    if total <= _ZERO:
        # Due immediately (counter decided in the visit): fully elapsed from the start on.
        return 1.0 if at >= clock.started_at else 0.0
    left = remaining(clock, at=at, calendar=calendar)
    return max(0.0, (total - left) / total)
