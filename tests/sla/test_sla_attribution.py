"""Delay responsibility (R13): ownership per community/unit and the holder at the breach."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from sla.attribution import Holding, ownership, responsible_holder
from sla.calendar import WorkingCalendar
from sla.policy import Channel

SH = ZoneInfo("Asia/Shanghai")
H = timedelta(hours=1)
CAL = WorkingCalendar()


def sh(y, mo, d, hh=0, mm=0):
    return datetime(y, mo, d, hh, mm, tzinfo=SH)


# Online case submitted Tue Mar 3 10:00 (due 17:30): unit first, then community, then back.
UNIT_1 = Holding("unit", "U-370102-001", sh(2026, 3, 3, 10), sh(2026, 3, 3, 14))
COMMUNITY = Holding("community", "C-370102-007", sh(2026, 3, 3, 14), sh(2026, 3, 4, 10))
UNIT_2 = Holding("unit", "U-370102-001", sh(2026, 3, 4, 10), None)
HOLDINGS = [UNIT_1, COMMUNITY, UNIT_2]


def test_r13_ownership_split_between_unit_and_community():
    got = ownership(holdings=HOLDINGS, until=sh(2026, 3, 4, 12), calendar=CAL, channel=Channel.ONLINE)
    assert got == [
        # 10–12 + 13:30–14:00 = 2.5h, and again Wed 10–12 = 2h → 4.5h, merged.
        ("unit", "U-370102-001", 4.5 * H),
        # 14:00–17:30 Tue = 3.5h + 08:30–10:00 Wed = 1.5h.
        ("community", "C-370102-007", 5 * H),
    ]


def test_r13_ownership_counter_case_in_clock_time():
    got = ownership(holdings=HOLDINGS, until=sh(2026, 3, 4, 12), calendar=CAL, channel=Channel.COUNTER)
    assert got == [("unit", "U-370102-001", 4 * H + 2 * H), ("community", "C-370102-007", 20 * H)]


def test_r13_ownership_ignores_time_after_until_and_later_holdings():
    got = ownership(holdings=HOLDINGS, until=sh(2026, 3, 3, 15), calendar=CAL, channel=Channel.ONLINE)
    # Unit 2.5h; community 14:00–15:00 = 1h; the Wednesday holding has not started.
    assert got == [("unit", "U-370102-001", 2.5 * H), ("community", "C-370102-007", H)]


def test_r13_ownership_order_is_first_holding_even_if_input_unsorted():
    got = ownership(holdings=[UNIT_2, COMMUNITY, UNIT_1], until=sh(2026, 3, 4, 12), calendar=CAL, channel="online")
    assert [code for _, code, _ in got] == ["U-370102-001", "C-370102-007"]


def test_r13_ownership_over_holiday_counts_no_working_time():
    holding = Holding("community", "C1", sh(2026, 2, 14, 17, 30), sh(2026, 2, 24, 8, 30))
    assert ownership(holdings=[holding], until=sh(2026, 3, 1), calendar=CAL, channel=Channel.ONLINE) == [
        ("community", "C1", timedelta(0))
    ]


@pytest.mark.parametrize(
    ("breach", "expected"),
    [
        (sh(2026, 3, 3, 17, 30), COMMUNITY),  # the due time of the case: community held it
        (sh(2026, 3, 3, 11), UNIT_1),
        (sh(2026, 3, 4, 10), UNIT_2),  # at the handover instant the new holder is responsible
        (sh(2026, 3, 9, 9), UNIT_2),  # open holding
    ],
    ids=["community", "unit_first", "handover_instant", "open"],
)
def test_r13_responsible_holder_at_breach(breach, expected):
    assert responsible_holder(holdings=HOLDINGS, breach_at=breach) == expected
    assert responsible_holder(holdings=list(reversed(HOLDINGS)), breach_at=breach) == expected


def test_r13_responsible_holder_with_utc_breach():
    breach = datetime(2026, 3, 3, 9, 30, tzinfo=ZoneInfo("UTC"))  # 17:30 Shanghai
    assert responsible_holder(holdings=HOLDINGS, breach_at=breach) == COMMUNITY


def test_r13_rejects_bad_holdings():
    with pytest.raises(ValueError):
        responsible_holder(holdings=HOLDINGS, breach_at=sh(2026, 3, 3, 9))  # before any holding
    with pytest.raises(ValueError):
        Holding("county", "X", sh(2026, 3, 3), None)
    with pytest.raises(ValueError):
        Holding("unit", "X", sh(2026, 3, 3, 10), sh(2026, 3, 3, 9))
    with pytest.raises(ValueError):
        Holding("unit", "X", datetime(2026, 3, 3, 10), None)
