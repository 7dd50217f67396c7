"""A year's official schedule (the State Council's notice) as a small text file.

Format (UTF-8; `#` starts a comment; blank lines are ignored)::

    year 2027
    2027-01-01 holiday 元旦
    2027-02-05..2027-02-11 holiday 春节
    2027-02-07 workday 春节调休

- the first entry is ``year YYYY``, exactly once;
- every other line is ``DATE KIND NAME`` or ``DATE..DATE KIND NAME`` (a range, both ends
  included), KIND being ``holiday`` or ``workday``, NAME the festival it belongs to
  (required: a reader must see why the day is off or on);
- every date lies in the declared year; no date is listed twice;
- a ``workday`` is a Saturday or Sunday made a working day (调休); a weekday is a working
  day anyway, so naming one is a mistake in the file.

Dates the file does not name follow the week (Monday-Friday working). Pure: parses text.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

__all__ = ["Schedule", "ScheduleError", "parse_schedule"]

_YEAR = re.compile(r"^year\s+(\d{4})$")
_LINE = re.compile(r"^(\S+?)(?:\.\.(\S+))?\s+(\S+)(?:\s+(.*))?$")
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class ScheduleError(ValueError):
    """Every problem found in the file, each as (line number, message)."""

    def __init__(self, problems: list[tuple[int, str]]):
        self.problems = problems
        super().__init__("; ".join(f"line {n}: {m}" for n, m in problems))


@dataclass(frozen=True)
class Schedule:
    year: int
    holidays: dict[date, str] = field(default_factory=dict)  # weekdays and weekend days off
    workdays: dict[date, str] = field(default_factory=dict)  # Saturdays and Sundays worked (调休)

    def days(self) -> dict[date, tuple[bool, str]]:
        """date -> (is_workday, name)."""
        out = {d: (False, n) for d, n in self.holidays.items()}
        out.update({d: (True, n) for d, n in self.workdays.items()})
        return dict(sorted(out.items()))


def _date(text: str, lineno: int, problems: list) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        problems.append((lineno, f"{text!r} is not a date (YYYY-MM-DD)"))
        return None


def parse_schedule(text: str) -> Schedule:
    """Parse and validate; raises ScheduleError listing every problem with its line."""
    problems: list[tuple[int, str]] = []
    year: int | None = None
    seen: dict[date, tuple[int, str]] = {}  # date -> (line, kind)
    holidays: dict[date, str] = {}
    workdays: dict[date, str] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _YEAR.match(line)
        if match:
            if year is not None:
                problems.append((lineno, "a second 'year' line: one file holds one year"))
            elif seen:
                problems.append((lineno, "'year YYYY' must come before the dates"))
            else:
                year = int(match.group(1))
            continue
        if year is None:
            problems.append((lineno, "the file must start with 'year YYYY'"))
            year = -1  # report this once; the dates below are still checked for form
        match = _LINE.match(line)
        if not match:
            problems.append((lineno, f"expected 'YYYY-MM-DD holiday|workday NAME', got {line[:80]!r}"))
            continue
        first_text, last_text, kind, name = match.groups()
        name = (name or "").strip()
        if kind not in ("holiday", "workday"):
            problems.append((lineno, f"kind must be 'holiday' or 'workday', got {kind[:40]!r}"))
            continue
        if not name:
            problems.append((lineno, f"a {kind} needs a name (e.g. 春节, 春节调休)"))
        first = _date(first_text, lineno, problems)
        last = _date(last_text, lineno, problems) if last_text else first
        if first is None or last is None:
            continue
        if last < first:
            problems.append((lineno, f"range {first}..{last} ends before it starts"))
            continue
        if (last - first).days > 31:
            problems.append((lineno, f"range {first}..{last} is longer than a month"))
            continue
        d = first
        while d <= last:
            if year > 0 and d.year != year:
                problems.append((lineno, f"{d} is not in the declared year {year}"))
            elif d in seen:
                other_line, other_kind = seen[d]
                if other_kind != kind:
                    problems.append((lineno, f"{d} is both a holiday and a working day (see line {other_line})"))
                else:
                    problems.append((lineno, f"{d} is listed twice (see line {other_line})"))
            elif kind == "workday" and d.weekday() < 5:
                problems.append((lineno, f"{d} is a {_WEEKDAYS[d.weekday()]}, a working day anyway: a 'workday' line names a Saturday or Sunday worked (调休)"))
            else:
                seen[d] = (lineno, kind)
                (workdays if kind == "workday" else holidays)[d] = name
            d += timedelta(days=1)
    if year is None:
        problems.append((0, "empty file: expected 'year YYYY' and the year's dates"))
    elif year > 0 and not holidays and not problems:
        problems.append((0, f"no holiday listed for {year}"))
    if problems:
        raise ScheduleError(problems)
    return Schedule(year=year, holidays=holidays, workdays=workdays)
