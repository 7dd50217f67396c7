"""R11: a year without an official schedule runs on the provisional calendar (statutory
holidays, lunar dates from the library, no adjusted working days), and a year's official
schedule is read from a small validated text file."""
from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest

from sla.calendar import WorkingCalendar
from sla.provisional import statutory_holidays
from sla.schedule import ScheduleError, parse_schedule

SH = ZoneInfo("Asia/Shanghai")
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "calendar-2027.example.txt"


def sh(*args) -> datetime:
    return datetime(*args, tzinfo=SH)


def names(year: int) -> dict[date, str]:
    return {d: n.split(" ")[0] for d, n in statutory_holidays(year).items()}


# Dates checked against the published almanac (and, for 2025/2026, the State Council's notices).
@pytest.mark.parametrize(
    ("year", "eve", "new_year", "qingming", "dragon_boat", "mid_autumn"),
    [
        (2025, date(2025, 1, 28), date(2025, 1, 29), date(2025, 4, 4), date(2025, 5, 31), date(2025, 10, 6)),
        (2026, date(2026, 2, 16), date(2026, 2, 17), date(2026, 4, 5), date(2026, 6, 19), date(2026, 9, 25)),
        (2027, date(2027, 2, 5), date(2027, 2, 6), date(2027, 4, 5), date(2027, 6, 9), date(2027, 9, 15)),
        (2028, date(2028, 1, 25), date(2028, 1, 26), date(2028, 4, 4), date(2028, 5, 28), date(2028, 10, 3)),
    ],
)
def test_r11_provisional_statutory_holidays_follow_the_lunar_calendar(year, eve, new_year, qingming, dragon_boat, mid_autumn):
    days = names(year)
    assert days[date(year, 1, 1)] == "元旦"
    assert [d for d, n in days.items() if n == "春节"] == [eve, new_year, date.fromordinal(new_year.toordinal() + 1), date.fromordinal(new_year.toordinal() + 2)]
    assert [d for d, n in days.items() if n == "清明节"] == [qingming]
    assert [d for d, n in days.items() if n == "劳动节"] == [date(year, 5, 1), date(year, 5, 2)]
    assert [d for d, n in days.items() if n == "端午节"] == [dragon_boat]
    assert [d for d, n in days.items() if n == "国庆节"] == [date(year, 10, 1), date(year, 10, 2), date(year, 10, 3)]
    if mid_autumn.month == 10 and mid_autumn.day <= 3:
        assert mid_autumn in days  # one holiday, inside National Day (2028)
    else:
        assert days[mid_autumn] == "中秋节"


@pytest.mark.parametrize(
    ("year", "make_up"),
    [
        # 2027: Spring Festival Sat 6 + Sun 7 Feb -> Tue 9, Wed 10 Feb (Mon 8 Feb is a holiday);
        # Labour Day Sat 1 + Sun 2 May -> Mon 3, Tue 4 May; National Day Sat 2 + Sun 3 Oct -> Mon 4, Tue 5.
        (2027, [date(2027, 2, 9), date(2027, 2, 10), date(2027, 5, 3), date(2027, 5, 4), date(2027, 10, 4), date(2027, 10, 5)]),
        # 2028: New Year's Day Sat 1 Jan -> Mon 3 Jan; Spring Festival Tue 25 - Fri 28 Jan and
        # Qingming Tue 4 Apr and Labour Day Mon-Tue need none; Dragon Boat Sun 28 May -> Mon 29 May;
        # National Day Sun 1 Oct -> Wed 4 Oct (Mon-Tue are holidays already).
        (2028, [date(2028, 1, 3), date(2028, 5, 29), date(2028, 10, 4)]),
    ],
)
def test_r11_provisional_weekend_holidays_are_made_up_on_the_next_free_weekday(year, make_up):
    assert [d for d, n in names(year).items() if n == "补假"] == make_up


@pytest.mark.parametrize("year", [2025, 2026])
def test_r11_provisional_holidays_agree_with_the_official_schedules_we_have(year):
    # Every statutory holiday of the provisional calendar is off in the official calendar
    # (which adds bridging days and 调休 on top).
    statutory = [d for d, n in names(year).items() if n != "补假"]
    assert statutory and all(chinese_calendar.is_holiday(d) for d in statutory)


@pytest.mark.parametrize(
    ("start", "hours", "due"),
    [
        # Thu 31 Dec 2026 16:00: 1.5 h; Fri 1 Jan New Year's Day; weekend; Mon 4 Jan 14:30.
        (sh(2026, 12, 31, 16), 6, sh(2027, 1, 4, 14, 30)),
        # Thu 4 Feb 2027 15:00: 2.5 h; Fri 5 (eve) .. Wed 10 Feb off (make-up days); Thu 11 Feb 08:30 + 3.5 h.
        (sh(2027, 2, 4, 15), 6, sh(2027, 2, 11, 12, 0)),
        # Fri 30 Apr 2027 16:00: 1.5 h; Sat 1 .. Tue 4 May off; Wed 5 May 14:30.
        (sh(2027, 4, 30, 16), 6, sh(2027, 5, 5, 14, 30)),
        # Mon 24 Jan 2028 16:00: 1.5 h; Tue 25 (eve) .. Fri 28 Jan off, weekend; Mon 31 Jan 14:30.
        (sh(2028, 1, 24, 16), 6, sh(2028, 1, 31, 14, 30)),
    ],
)
def test_r11_due_in_a_provisional_year(start, hours, due):
    cal = WorkingCalendar()
    assert cal.add_working_hours(start, hours) == due
    assert cal.is_provisional_between(start, due)


# --- the official schedule file --------------------------------------------------------------


def test_r11_example_schedule_parses():
    schedule = parse_schedule(EXAMPLE.read_text(encoding="utf-8"))
    assert schedule.year == 2027
    assert schedule.holidays[date(2027, 2, 6)].startswith("春节")
    assert all(d.weekday() >= 5 for d in schedule.workdays)
    cal = WorkingCalendar(overrides={d: w for d, (w, _) in schedule.days().items()}, official_years=[schedule.year])
    assert cal.is_workday(date(2027, 2, 20)) and not cal.is_workday(date(2027, 2, 12))
    assert not cal.is_provisional_between(sh(2027, 1, 1, 9), sh(2027, 12, 31, 9))


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("2027-01-01 holiday 元旦\n", 1, "must start with 'year YYYY'"),
        ("year 2027\n2028-01-01 holiday 元旦\n", 2, "not in the declared year 2027"),
        ("year 2027\n2027-02-06 holiday 春节\n\n2027-02-06 workday 调休\n", 4, "both a holiday and a working day (see line 2)"),
        ("year 2027\n2027-02-03 workday 春节调休\n", 2, "a Wednesday, a working day anyway"),
        ("year 2027\n2027-01-01 holiday\n", 2, "needs a name"),
        ("year 2027\n2027-02-20 workday\n", 2, "needs a name"),
        ("year 2027\n2027-13-01 holiday X\n", 2, "is not a date"),
        ("year 2027\n2027-01-01 day-off X\n", 2, "kind must be 'holiday' or 'workday'"),
        ("year 2027\n2027-01-01..2026-12-31 holiday X\n", 2, "ends before it starts"),
        ("year 2027\n2027-01-01 holiday A\n2027-01-01 holiday B\n", 3, "listed twice"),
        ("year 2027\nyear 2028\n", 2, "a second 'year' line"),
        ("", 0, "empty file"),
    ],
)
def test_r11_schedule_file_errors_name_the_line(text, line, message):
    with pytest.raises(ScheduleError) as err:
        parse_schedule(text)
    assert any(n == line and message in m for n, m in err.value.problems), err.value.problems
