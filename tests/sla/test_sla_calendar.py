"""Working calendar (R11): real 2025–2026 dates, checked against the State Council notices.

Expected values are worked out by hand from the default hours 08:30–12:00 + 13:30–17:30
(3.5 h + 4 h = 7.5 h a working day); the arithmetic is in each row's comment.
"""

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest

from sla.calendar import CalendarNotCovered, WorkingCalendar, WorkingHours

SH = ZoneInfo("Asia/Shanghai")
UTC = timezone.utc
H = timedelta(hours=1)


def sh(y, mo, d, hh=0, mm=0):
    return datetime(y, mo, d, hh, mm, tzinfo=SH)


def utc(y, mo, d, hh=0, mm=0):
    return datetime(y, mo, d, hh, mm, tzinfo=UTC)


CAL = WorkingCalendar()


# --- the official calendar we rely on -----------------------------------------------------

# From the State Council's 2026 holiday notice: New Year Jan 1–3 off, Sun Jan 4 worked;
# Spring Festival Feb 15–23 off, Sat Feb 14 and Sat Feb 28 worked; Mid-autumn Sep 25–27 off;
# National Day Oct 1–7 off, Sun Sep 20 and Sat Oct 10 worked.
OFFICIAL_2026 = [
    (date(2026, 1, 1), False),
    (date(2026, 1, 2), False),
    (date(2026, 1, 4), True),  # Sunday, adjusted working day
    (date(2026, 2, 13), True),  # Friday
    (date(2026, 2, 14), True),  # Saturday, adjusted working day
    *[(date(2026, 2, d), False) for d in range(15, 24)],  # Spring Festival, 9 days
    (date(2026, 2, 24), True),
    (date(2026, 2, 28), True),  # Saturday, adjusted working day
    (date(2026, 3, 1), False),  # ordinary Sunday
    (date(2026, 3, 7), False),  # ordinary Saturday
    (date(2026, 9, 20), True),  # Sunday, adjusted working day
    (date(2026, 9, 25), False),  # Mid-autumn (Friday)
    *[(date(2026, 10, d), False) for d in range(1, 8)],  # National Day
    (date(2026, 10, 8), True),
    (date(2026, 10, 10), True),  # Saturday, adjusted working day
    (date(2026, 10, 11), False),
]


@pytest.mark.parametrize(("day", "working"), OFFICIAL_2026, ids=lambda v: str(v))
def test_r11_official_2026_calendar_matches_notice(day, working):
    assert chinese_calendar.is_workday(day) is working
    assert CAL.is_workday(day) is working


# --- R11: six working hours ---------------------------------------------------------------

R11_TABLE = [
    # id, submitted, due
    ("across_lunch", sh(2026, 3, 3, 10), sh(2026, 3, 3, 17, 30)),  # 10–12 = 2h, 13:30–17:30 = 4h
    ("start_of_day", sh(2026, 3, 3, 8, 30), sh(2026, 3, 3, 16)),  # 3.5h + 13:30+2.5h
    ("overnight_lands_on_noon", sh(2026, 3, 3, 15), sh(2026, 3, 4, 12)),  # 2.5h + 08:30+3.5h = 12:00 exactly
    ("overnight", sh(2026, 3, 3, 16), sh(2026, 3, 4, 14, 30)),  # 1.5h + 3.5h + 13:30+1h
    ("at_night", sh(2026, 3, 3, 22), sh(2026, 3, 4, 16)),  # starts 08:30 next day: 3.5h + 13:30+2.5h
    ("early_morning", sh(2026, 3, 4, 6), sh(2026, 3, 4, 16)),  # starts 08:30
    ("at_lunch", sh(2026, 3, 3, 12, 30), sh(2026, 3, 4, 10, 30)),  # starts 13:30: 4h + 08:30+2h
    ("exactly_noon", sh(2026, 3, 3, 12), sh(2026, 3, 4, 10, 30)),  # 12:00 is outside: same as lunch
    ("exactly_close", sh(2026, 3, 3, 17, 30), sh(2026, 3, 4, 16)),  # nothing left today
    ("weekend_friday_afternoon", sh(2026, 3, 6, 14), sh(2026, 3, 9, 11)),  # Fri 3.5h, Sat/Sun off, Mon 08:30+2.5h
    ("weekend_friday_close", sh(2026, 3, 6, 17, 30), sh(2026, 3, 9, 16)),  # all on Monday
    ("on_saturday", sh(2026, 3, 7, 10), sh(2026, 3, 9, 16)),  # ordinary Saturday: Monday
    # Acceptance example: Fri 13 Feb 15:00 → 17:30 = 2.5h; Sat 14 Feb is worked: 08:30+3.5h = 12:00.
    ("spring_festival_acceptance", sh(2026, 2, 13, 15), sh(2026, 2, 14, 12)),
    ("spring_festival_straddle", sh(2026, 2, 14, 14), sh(2026, 2, 24, 11)),  # 3.5h on Sat 14, Feb 24 08:30+2.5h
    ("on_spring_festival_holiday", sh(2026, 2, 18, 10), sh(2026, 2, 24, 16)),  # all on Feb 24
    ("into_adjusted_saturday_feb_28", sh(2026, 2, 27, 16), sh(2026, 2, 28, 14, 30)),  # 1.5h + 3.5h + 1h
    ("national_day", sh(2026, 9, 30, 15), sh(2026, 10, 8, 12)),  # 2.5h, Oct 1–7 off, Oct 8 08:30+3.5h
    ("on_national_day", sh(2026, 10, 3, 9), sh(2026, 10, 8, 16)),  # all on Oct 8
    ("into_adjusted_saturday_oct_10", sh(2026, 10, 9, 16, 30), sh(2026, 10, 10, 15)),  # 1h + 3.5h + 1.5h
    ("adjusted_saturday_to_monday", sh(2026, 10, 10, 16), sh(2026, 10, 12, 14, 30)),  # 1.5h, Sun off, 3.5h+1h
    ("mid_autumn", sh(2026, 9, 24, 17), sh(2026, 9, 28, 15, 30)),  # 0.5h, Sep 25–27 off, 3.5h + 2h
    ("saturday_into_adjusted_sunday", sh(2026, 9, 19, 10), sh(2026, 9, 20, 16)),  # Sun Sep 20 is worked
    ("new_year", sh(2025, 12, 31, 16), sh(2026, 1, 4, 14, 30)),  # 1.5h, Jan 1–3 off, Sun Jan 4 3.5h + 1h
    # Inputs in UTC: the local (Shanghai) day and hour decide.
    ("utc_input", utc(2026, 3, 3, 2), sh(2026, 3, 3, 17, 30)),  # 10:00 Shanghai
    ("utc_previous_utc_day", utc(2026, 3, 2, 23), sh(2026, 3, 3, 16)),  # 07:00 Shanghai on Mar 3
    ("utc_acceptance", utc(2026, 2, 13, 7), sh(2026, 2, 14, 12)),  # 15:00 Shanghai
]


@pytest.mark.parametrize(("submitted", "due"), [r[1:] for r in R11_TABLE], ids=[r[0] for r in R11_TABLE])
def test_r11_due_six_working_hours_table(submitted, due):
    got = CAL.add_working_hours(submitted, 6)
    assert got == due
    assert got.utcoffset() == timedelta(hours=8)  # always returned in Shanghai time
    assert CAL.working_time_between(submitted, got) == 6 * H


def test_r11_acceptance_due_on_working_saturday_not_next_week():
    due = CAL.add_working_hours(sh(2026, 2, 13, 15), 6)
    assert due.isoformat() == "2026-02-14T12:00:00+08:00"


def test_r11_adding_to_interval_end_returns_the_end_not_next_start():
    assert CAL.add_working_time(sh(2026, 3, 3, 10), 2 * H) == sh(2026, 3, 3, 12)
    assert CAL.add_working_time(sh(2026, 3, 3, 13, 30), 4 * H) == sh(2026, 3, 3, 17, 30)


def test_r11_zero_duration_is_next_working_instant():
    assert CAL.add_working_time(sh(2026, 3, 3, 10), timedelta(0)) == sh(2026, 3, 3, 10)
    assert CAL.add_working_time(sh(2026, 3, 3, 12), timedelta(0)) == sh(2026, 3, 3, 13, 30)


def test_r11_negative_duration_rejected():
    with pytest.raises(ValueError):
        CAL.add_working_time(sh(2026, 3, 3, 10), -H)


def test_r11_sub_minute_precision_is_kept():
    start = datetime(2026, 3, 3, 11, 59, 30, 250_000, tzinfo=SH)  # 29.75 s before noon
    assert CAL.add_working_time(start, timedelta(seconds=29.75)) == sh(2026, 3, 3, 12)
    # 30 s is 0.25 s more than the morning has left: the rest is counted from 13:30.
    assert CAL.add_working_time(start, timedelta(seconds=30)) == datetime(2026, 3, 3, 13, 30, 0, 250_000, tzinfo=SH)


NEXT_WORKING = [
    ("inside", sh(2026, 3, 3, 10), sh(2026, 3, 3, 10)),
    ("at_open", sh(2026, 3, 3, 8, 30), sh(2026, 3, 3, 8, 30)),
    ("at_noon", sh(2026, 3, 3, 12), sh(2026, 3, 3, 13, 30)),
    ("friday_close", sh(2026, 3, 6, 17, 30), sh(2026, 3, 9, 8, 30)),
    ("spring_festival", sh(2026, 2, 15, 10), sh(2026, 2, 24, 8, 30)),
    ("utc_inside", utc(2026, 3, 3, 2), sh(2026, 3, 3, 10)),
]


@pytest.mark.parametrize(("at", "expected"), [r[1:] for r in NEXT_WORKING], ids=[r[0] for r in NEXT_WORKING])
def test_r11_next_working_instant_table(at, expected):
    assert CAL.next_working_instant(at) == expected


WORKING_BETWEEN = [
    ("one_day_sla", sh(2026, 3, 3, 10), sh(2026, 3, 3, 17, 30), 6 * H),
    ("reversed_is_zero", sh(2026, 3, 3, 17, 30), sh(2026, 3, 3, 10), timedelta(0)),
    ("lunch_only", sh(2026, 3, 3, 12), sh(2026, 3, 3, 13, 30), timedelta(0)),
    ("full_week", sh(2026, 3, 9), sh(2026, 3, 16), 5 * 7.5 * H),
    ("spring_festival_only_feb_14", sh(2026, 2, 13, 17, 30), sh(2026, 2, 24, 8, 30), 7.5 * H),
    ("national_day_week", sh(2026, 9, 28), sh(2026, 10, 12), 6 * 7.5 * H),  # Sep 28–30, Oct 8, 9, 10
    ("utc_bounds", utc(2026, 3, 3, 1), utc(2026, 3, 3, 4), 3 * H),  # 09:00–12:00 Shanghai
]


@pytest.mark.parametrize(
    ("start", "end", "expected"), [r[1:] for r in WORKING_BETWEEN], ids=[r[0] for r in WORKING_BETWEEN]
)
def test_r11_working_time_between_table(start, end, expected):
    assert CAL.working_time_between(start, end) == expected


# --- naive datetimes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda: CAL.add_working_time(datetime(2026, 3, 3, 10), H),
        lambda: CAL.next_working_instant(datetime(2026, 3, 3, 10)),
        lambda: CAL.working_time_between(datetime(2026, 3, 3, 10), sh(2026, 3, 4)),
        lambda: CAL.working_time_between(sh(2026, 3, 3), datetime(2026, 3, 4)),
    ],
    ids=["add", "next", "between_start", "between_end"],
)
def test_r11_naive_datetime_rejected(call):
    with pytest.raises(ValueError, match="timezone-aware"):
        call()


# --- coverage: a year without an official schedule runs on the provisional calendar -----------


def test_r11_year_2027_not_covered_is_provisional_not_an_error():
    # Mon 2027-01-04: no statutory holiday, a working day on the provisional calendar.
    assert CAL.is_workday(date(2027, 1, 4))
    assert not CAL.is_workday(date(2027, 1, 1))  # New Year's Day
    assert CAL.is_provisional_year(2027) and not CAL.is_provisional_year(2026)


def test_r11_due_running_into_2027_is_computed_and_provisional():
    # Thu 2026-12-31 16:00: 1.5 h that day; Fri 1 Jan is New Year's Day, then the weekend;
    # Mon 4 Jan 08:30 + 3.5 h + 13:30 + 1 h.
    due = CAL.add_working_hours(sh(2026, 12, 31, 16), 6)
    assert due == sh(2027, 1, 4, 14, 30)
    assert CAL.is_provisional_between(sh(2026, 12, 31, 16), due)
    assert not CAL.is_provisional_between(sh(2026, 12, 30, 9), sh(2026, 12, 31, 17))


def test_r11_year_2003_is_provisional():
    assert CAL.is_workday(date(2003, 12, 31)) and CAL.is_provisional_year(2003)


def test_r11_year_beyond_the_lunar_tables_is_an_error_not_a_guess():
    with pytest.raises(CalendarNotCovered, match="2100"):
        CAL.is_workday(date(2100, 1, 4))


@pytest.mark.parametrize(("year", "covered"), [(2003, False), (2004, True), (2025, True), (2026, True), (2027, False)])
def test_r11_covers_years_of_chinesecalendar(year, covered):
    assert CAL.covers(year) is covered


def test_r11_imported_official_year_is_covered_and_its_plain_days_follow_the_week():
    cal = WorkingCalendar(overrides={date(2027, 1, 1): False, date(2027, 2, 7): True}, official_years=[2027])
    assert cal.covers(2027) and not cal.is_provisional_between(sh(2027, 1, 1, 9), sh(2027, 12, 31, 9))
    assert cal.is_workday(date(2027, 2, 7))  # a Sunday the schedule makes a working day
    assert cal.is_workday(date(2027, 4, 5))  # Qingming is not in this (partial) schedule: a Monday
    assert not cal.is_workday(date(2027, 1, 2))  # a Saturday


def _full_year(year):
    d, out = date(year, 1, 1), {}
    while d.year == year:
        out[d] = d.weekday() < 5  # provincial table for the year: weekdays work (illustrative)
        d += timedelta(days=1)
    return out


def test_r11_overrides_for_a_whole_year_cover_it():
    cal = WorkingCalendar(overrides=_full_year(2027))
    assert cal.covers(2027)
    # Fri 2027-01-01 is a workday in this (made-up) table: 1.5 h on Dec 31, 08:30+3.5h+13:30+1h.
    assert cal.add_working_hours(sh(2026, 12, 31, 16), 6) == sh(2027, 1, 1, 14, 30)


def test_r11_partial_overrides_do_not_cover_the_year_but_serve_the_days_they_name():
    cal = WorkingCalendar(overrides={date(2027, 1, 1): True})
    assert not cal.covers(2027)
    assert cal.add_working_hours(sh(2026, 12, 31, 16), 6) == sh(2027, 1, 1, 14, 30)
    off = WorkingCalendar(overrides={date(2027, 1, 4): False})  # the rest: provisional
    assert off.add_working_hours(sh(2026, 12, 31, 16), 6) == sh(2027, 1, 5, 14, 30)


# --- provincial overrides ------------------------------------------------------------------


def test_r11_override_makes_holiday_a_workday():
    cal = WorkingCalendar(overrides={date(2026, 2, 16): True})
    assert cal.is_workday(date(2026, 2, 16))
    # Sat Feb 14 14:00: 3.5 h; Sun Feb 15 off; Mon Feb 16 (override) 08:30+2.5h.
    assert cal.add_working_hours(sh(2026, 2, 14, 14), 6) == sh(2026, 2, 16, 11)


def test_r11_override_makes_workday_a_holiday():
    cal = WorkingCalendar(overrides={date(2026, 3, 4): False})
    assert not cal.is_workday(date(2026, 3, 4))
    # Tue Mar 3 15:00: 2.5 h; Wed Mar 4 off; Thu Mar 5 08:30+3.5h = 12:00.
    assert cal.add_working_hours(sh(2026, 3, 3, 15), 6) == sh(2026, 3, 5, 12)


def test_r11_override_extended_spring_festival():
    cal = WorkingCalendar(overrides={date(2026, 2, 24): False, date(2026, 2, 25): False})
    assert cal.add_working_hours(sh(2026, 2, 13, 15), 6) == sh(2026, 2, 14, 12)  # unaffected
    assert cal.add_working_hours(sh(2026, 2, 14, 14), 6) == sh(2026, 2, 26, 11)  # 3.5h, then Feb 26 08:30+2.5h


def test_r11_overrides_are_copied_at_construction():
    table = {date(2026, 3, 4): False}
    cal = WorkingCalendar(overrides=table)
    table[date(2026, 3, 4)] = True
    assert not cal.is_workday(date(2026, 3, 4))


def test_r11_override_keys_must_be_dates():
    with pytest.raises(TypeError):
        WorkingCalendar(overrides={datetime(2026, 3, 4, tzinfo=SH): False})


def test_r11_all_days_off_is_an_error_not_a_hang():
    cal = WorkingCalendar(overrides={d: False for d in [*_full_year(2026), *_full_year(2027)]})
    with pytest.raises(CalendarNotCovered):
        cal.add_working_hours(sh(2026, 1, 5, 10), 6)


# --- working hours -----------------------------------------------------------------------------


def test_r11_working_hours_parse_default_spec():
    assert WorkingHours.parse("08:30-12:00,13:30-17:30") == WorkingHours()
    assert WorkingHours.parse(" 13:30-17:30 , 08:30-12:00 ") == WorkingHours()  # order and spaces don't matter
    assert WorkingHours().day_length == 7.5 * H


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "   ",
        "08:30",
        "8:30-12:00",
        "08:30-12:00;13:30-17:30",
        "08:30-12:00,",
        "12:00-08:30",  # reversed
        "08:30-08:30",  # empty
        "08:30-12:00,11:00-13:00",  # overlapping
        "08:30-12:00,08:30-12:00",  # duplicate
        "25:00-26:00",
        "08:60-09:00",
        "abc",
    ],
)
def test_r11_bad_working_hours_spec_rejected(spec):
    with pytest.raises(ValueError):
        WorkingHours.parse(spec)


def test_r11_working_hours_constructor_validates():
    with pytest.raises(ValueError):
        WorkingHours(intervals=((time(13, 30), time(17, 30)), (time(8, 30), time(14, 0))))
    with pytest.raises(ValueError):
        WorkingHours(intervals=())
    with pytest.raises(Exception):  # noqa: B017 - zoneinfo raises its own error type for an unknown zone
        WorkingHours(tz="Mars/Olympus_Mons")


def test_r11_configured_hours_are_used():
    cal = WorkingCalendar(hours=WorkingHours.parse("09:00-17:00"))
    assert cal.hours.day_length == 8 * H
    # Tue Mar 3 15:00: 2 h to 17:00; Wed 09:00+4h.
    assert cal.add_working_hours(sh(2026, 3, 3, 15), 6) == sh(2026, 3, 4, 13)
    # No lunch break in these hours: 12:30–17:00 = 4.5h, then Wed 09:00+1.5h.
    assert cal.add_working_hours(sh(2026, 3, 3, 12, 30), 6) == sh(2026, 3, 4, 10, 30)
