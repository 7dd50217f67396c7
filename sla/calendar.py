"""Working calendar for R11: official workdays (chinesecalendar, or a year's official
schedule imported into the store) + provincial overrides, and working-time arithmetic
over the configured working hours.

A year that neither chinesecalendar nor an imported schedule covers is never an error:
its days come from the provisional calendar (`sla.provisional`: statutory holidays, no
adjusted working days), and callers ask `is_provisional_between` to mark the deadlines
that depend on it.

Pure: no clock, no I/O. Every datetime in or out is timezone-aware.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar

from sla.provisional import statutory_holidays

__all__ = ["CalendarNotCovered", "WorkingHours", "WorkingCalendar", "require_aware"]

_ZERO = timedelta(0)
_ONE_DAY = timedelta(days=1)
# Longest run of days without a working interval we accept before calling the
# configuration broken (overrides marking a whole year off, say); avoids an endless loop.
_MAX_IDLE_DAYS = 400
_SPEC_PART = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


class CalendarNotCovered(Exception):
    """No working interval can be found (a configuration marking a whole year off, say)."""


def require_aware(value: datetime, name: str = "datetime") -> datetime:
    """Reject naive datetimes: a naive instant is ambiguous across the UTC store and local rules."""
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value


@lru_cache(maxsize=8192)
def _official_workday(d: date) -> bool | None:
    """chinesecalendar's answer, or None for a year it does not know."""
    # Cached: chinesecalendar validates and hashes on every call; the due-time hot path
    # asks about the same few dates again and again.
    try:
        return chinese_calendar.is_workday(d)
    except NotImplementedError:
        return None


@lru_cache(maxsize=256)
def library_covers(year: int) -> bool:
    """Whether chinesecalendar carries the State Council's schedule of ``year``."""
    return _official_workday(date(year, 1, 1)) is not None


def _provisional_workday(d: date) -> bool:
    try:
        holidays = statutory_holidays(d.year)
    except ValueError as exc:
        raise CalendarNotCovered(f"the working calendar does not cover {d.isoformat()}: {exc}") from None
    return d.weekday() < 5 and d not in holidays


@dataclass(frozen=True)
class WorkingHours:
    """Daily working intervals (local wall time in ``tz``), sorted and non-overlapping."""

    intervals: tuple[tuple[time, time], ...] = ((time(8, 30), time(12, 0)), (time(13, 30), time(17, 30)))
    tz: str = "Asia/Shanghai"

    def __post_init__(self) -> None:
        if not self.intervals:
            raise ValueError("working hours need at least one interval")
        previous_end: time | None = None
        for start, end in self.intervals:
            if not (isinstance(start, time) and isinstance(end, time)):
                raise ValueError(f"interval bounds must be datetime.time, got {start!r}-{end!r}")
            if start.tzinfo is not None or end.tzinfo is not None:
                raise ValueError("interval bounds are wall times in `tz`; give them without tzinfo")
            if start >= end:
                raise ValueError(f"interval {start:%H:%M}-{end:%H:%M} is empty or reversed")
            if previous_end is not None and start < previous_end:
                raise ValueError(
                    f"interval {start:%H:%M}-{end:%H:%M} overlaps or precedes the one ending {previous_end:%H:%M}"
                )
            previous_end = end
        ZoneInfo(self.tz)  # fail early on an unknown zone name

    @classmethod
    def parse(cls, spec: str, *, tz: str = "Asia/Shanghai") -> WorkingHours:
        """Parse ``"08:30-12:00,13:30-17:30"`` (as kept in settings); ValueError when malformed."""
        if not isinstance(spec, str) or not spec.strip():
            raise ValueError("empty working hours spec")
        intervals = []
        for part in spec.split(","):
            match = _SPEC_PART.match(part.strip())
            if not match:
                raise ValueError(f"bad working interval {part.strip()!r} in {spec!r}; expected HH:MM-HH:MM")
            h1, m1, h2, m2 = (int(g) for g in match.groups())
            try:
                intervals.append((time(h1, m1), time(h2, m2)))
            except ValueError as exc:
                raise ValueError(f"bad time in {part.strip()!r}: {exc}") from None
        # Order in the spec is not meaningful; overlap still is an error (__post_init__).
        return cls(intervals=tuple(sorted(intervals)), tz=tz)

    @property
    def day_length(self) -> timedelta:
        """Working time in one full working day (7 h 30 min by default)."""
        return sum(
            (datetime.combine(date.min, e) - datetime.combine(date.min, s) for s, e in self.intervals),
            _ZERO,
        )


class WorkingCalendar:
    """Workdays and working-time arithmetic. Instances are immutable after construction."""

    def __init__(
        self,
        *,
        hours: WorkingHours = WorkingHours(),
        overrides: Mapping[date, bool] | None = None,
        official_years: Iterable[int] = (),
    ):
        """``overrides``: days whose status is fixed (provincial changes, and the days of
        imported official schedules). ``official_years``: years whose official schedule was
        imported (its days in ``overrides``; every other day of it is a plain weekday or
        weekend day)."""
        self.hours = hours
        self.official_years = frozenset(int(y) for y in official_years)
        self.tz = ZoneInfo(hours.tz)
        # Copy: a caller mutating its dict later must not change cached answers.
        self._overrides: dict[date, bool] = {}
        for d, working in (overrides or {}).items():
            if isinstance(d, datetime) or not isinstance(d, date):
                raise TypeError(f"override keys must be dates, got {d!r}")
            self._overrides[d] = bool(working)
        # Per-date list of (start, end) aware datetimes; () for a day off. The hot path
        # of add_working_time is a dict lookup plus a few comparisons per day.
        self._day_cache: dict[date, tuple[tuple[datetime, datetime], ...]] = {}
        self._covers_cache: dict[int, bool] = {}

    def __repr__(self) -> str:
        return f"WorkingCalendar(hours={self.hours!r}, overrides={len(self._overrides)} dates)"

    # --- days -------------------------------------------------------------------------

    def is_workday(self, d: date) -> bool:
        if isinstance(d, datetime):
            raise TypeError("is_workday takes a date; convert the instant to a local date first")
        working = self._overrides.get(d)
        if working is not None:
            return working
        official = _official_workday(d)
        if official is not None:
            return official
        if d.year in self.official_years:
            return d.weekday() < 5  # the imported schedule's days are in the overrides
        return _provisional_workday(d)

    def covers(self, year: int) -> bool:
        """Whether ``year`` follows an official schedule (chinesecalendar's or an imported
        one), or overrides fix every one of its days."""
        known = self._covers_cache.get(year)
        if known is None:
            known = year in self.official_years or library_covers(year)
            day = date(year, 1, 1)
            while not known and day.year == year and day in self._overrides:
                day += _ONE_DAY
            known = known or day.year != year
            self._covers_cache[year] = known
        return known

    def is_provisional_year(self, year: int) -> bool:
        return not self.covers(year)

    def is_provisional_between(self, start: datetime, end: datetime) -> bool:
        """Whether a result computed from ``start`` to ``end`` (either order) depends on a
        provisional year: any local date between them lies in one."""
        a = require_aware(start, "start").astimezone(self.tz).year
        b = require_aware(end, "end").astimezone(self.tz).year
        return any(self.is_provisional_year(y) for y in range(min(a, b), max(a, b) + 1))

    def intervals_on(self, d: date) -> tuple[tuple[datetime, datetime], ...]:
        """Working intervals of local date ``d`` as aware datetimes; empty on a day off."""
        cached = self._day_cache.get(d)
        if cached is None:
            if self.is_workday(d):
                tz = self.tz
                cached = tuple(
                    (datetime.combine(d, s, tzinfo=tz), datetime.combine(d, e, tzinfo=tz))
                    for s, e in self.hours.intervals
                )
            else:
                cached = ()
            self._day_cache[d] = cached
        return cached

    # --- instants -----------------------------------------------------------------------
    # Arithmetic below is wall-clock arithmetic within one tz (same tzinfo on both sides).
    # Asia/Shanghai has no DST, so wall time equals elapsed time.

    def is_working_instant(self, at: datetime) -> bool:
        local = require_aware(at, "at").astimezone(self.tz)
        return any(s <= local < e for s, e in self.intervals_on(local.date()))

    def next_working_instant(self, at: datetime) -> datetime:
        """``at`` itself (in the calendar's tz) if inside a working interval, else the next interval's start."""
        local = require_aware(at, "at").astimezone(self.tz)
        d = local.date()
        for _ in range(_MAX_IDLE_DAYS):
            for s, e in self.intervals_on(d):
                if local < e:
                    return local if local >= s else s
            d += _ONE_DAY
        raise CalendarNotCovered(f"no working interval within {_MAX_IDLE_DAYS} days after {at.isoformat()}")

    def add_working_time(self, start: datetime, duration: timedelta) -> datetime:
        """The instant when ``duration`` of working time has elapsed after ``start``.

        Counting begins at the next working interval when ``start`` is outside one. Landing
        exactly on an interval end returns that end (12:00, not 13:30). A zero duration
        returns ``next_working_instant(start)``.
        """
        require_aware(start, "start")
        if duration < _ZERO:
            raise ValueError(f"duration must not be negative, got {duration}")
        local = start.astimezone(self.tz)
        remaining = duration
        d = local.date()
        idle = 0
        day_cache = self._day_cache
        while True:
            intervals = day_cache.get(d)
            if intervals is None:
                intervals = self.intervals_on(d)
            if intervals:
                idle = 0
                for s, e in intervals:
                    if e <= local:
                        continue
                    cur = local if local > s else s
                    available = e - cur
                    if remaining <= available:
                        return cur + remaining
                    remaining -= available
            else:
                idle += 1
                if idle > _MAX_IDLE_DAYS:
                    raise CalendarNotCovered(
                        f"no working interval within {_MAX_IDLE_DAYS} days after {start.isoformat()}"
                    )
            d += _ONE_DAY

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        return self.add_working_time(start, timedelta(hours=hours))

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Working time inside [start, end); zero when end <= start."""
        require_aware(start, "start")
        require_aware(end, "end")
        if end <= start:
            return _ZERO
        lo, hi = start.astimezone(self.tz), end.astimezone(self.tz)
        total = _ZERO
        d, last = lo.date(), hi.date()
        while d <= last:
            for s, e in self.intervals_on(d):
                a = lo if lo > s else s
                b = hi if hi < e else e
                if b > a:
                    total += b - a
            d += _ONE_DAY
        return total
