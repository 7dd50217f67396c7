"""Provisional working calendar for a year without an official schedule yet.

The State Council publishes each year's holidays and adjusted working days (调休) in
the autumn before; until then (and until `healthpass calendar import` loads it) a
deadline in that year is computed on the statutory public holidays of the national
regulation (全国年节及纪念日放假办法, as revised in 2024, in force 2025), with no
adjusted working days:

- New Year's Day (元旦): 1 January, 1 day
- Spring Festival (春节): the lunar New Year's eve and the first three lunar days, 4 days
- Qingming (清明节): the day of the solar term, 1 day
- Labour Day (劳动节): 1-2 May, 2 days
- Dragon Boat Festival (端午节): lunar 5/5, 1 day
- Mid-Autumn Festival (中秋节): lunar 8/15, 1 day
- National Day (国庆节): 1-3 October, 3 days

Art. 6 of the regulation: a holiday of all citizens that falls on a Saturday or Sunday is
made up on a working day (补假); here, the first following weekday not already a holiday.

Lunar dates and the solar term come from `lunar_python` (pinned in pyproject.toml).
Pure: no clock, no I/O.
"""
from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

__all__ = ["MAX_YEAR", "MIN_YEAR", "statutory_holidays"]

# lunar_python's tables are exact for these years; outside them we refuse rather than guess.
MIN_YEAR, MAX_YEAR = 1901, 2099
_ONE_DAY = timedelta(days=1)


def _solar(lunar) -> date:
    s = lunar.getSolar()
    return date(s.getYear(), s.getMonth(), s.getDay())


@lru_cache(maxsize=256)
def _statutory(year: int) -> tuple[tuple[date, str], ...]:
    from lunar_python import Lunar

    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError(f"no provisional calendar for {year}: the lunar tables cover {MIN_YEAR}-{MAX_YEAR}")
    days: dict[date, str] = {date(year, 1, 1): "元旦 New Year's Day (provisional)"}
    new_year = _solar(Lunar.fromYmd(year, 1, 1))  # lunar New Year of this Gregorian year: 21 Jan - 20 Feb
    for offset in range(-1, 3):  # eve + first three days
        days[new_year + offset * _ONE_DAY] = "春节 Spring Festival (provisional)"
    # The 清明 solar term of this year (the table also holds next year's terms under other keys).
    jq = Lunar.fromYmd(year, 3, 1).getJieQiTable()["清明"]
    days[date(jq.getYear(), jq.getMonth(), jq.getDay())] = "清明节 Qingming (provisional)"
    for d in (date(year, 5, 1), date(year, 5, 2)):
        days[d] = "劳动节 Labour Day (provisional)"
    days[_solar(Lunar.fromYmd(year, 5, 5))] = "端午节 Dragon Boat Festival (provisional)"
    mid_autumn = _solar(Lunar.fromYmd(year, 8, 15))
    # When Mid-Autumn falls inside National Day the day stays one holiday (the union).
    days.setdefault(mid_autumn, "中秋节 Mid-Autumn Festival (provisional)")
    for d in (date(year, 10, 1), date(year, 10, 2), date(year, 10, 3)):
        days[d] = "国庆节 National Day (provisional)"
    # 补假 (art. 6): each holiday on a weekend gives the next free weekday.
    for d in sorted(days):
        if d.weekday() >= 5 and not days[d].startswith("补假"):
            make_up = d + _ONE_DAY
            while make_up.weekday() >= 5 or make_up in days:
                make_up += _ONE_DAY
            if make_up.year == year:
                days[make_up] = f"补假 make-up day for {days[d].split(' (')[0]} (provisional)"
    return tuple(sorted(days.items()))


def statutory_holidays(year: int) -> dict[date, str]:
    """The provisional days off of ``year`` (weekends aside), each with its name."""
    return dict(_statutory(year))
