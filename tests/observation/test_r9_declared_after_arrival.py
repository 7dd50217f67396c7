"""R8/R9 with real calendar dates: an arrival who declares the day after arriving is not
missing the arrival day (it lies before the declaration), stays on schedule for the automatic
green pass, and gets it at the end of the 14 days counted from arrival."""
from __future__ import annotations

from datetime import date

from tests.observation.conftest import sh

ARRIVED = date(2026, 3, 3)  # Tuesday, day 1
DECLARED = date(2026, 3, 4)  # Wednesday, day 2


def test_r9_days_before_the_declaration_are_not_missing_and_green_comes_on_time(obs):
    case = obs.arrive(at=sh(2026, 3, 4, 10), arrival=ARRIVED)
    view = obs.status(case)
    assert view["period"]["day_1"] == ARRIVED and view["period"]["ends_on"] == date(2026, 3, 17)
    assert (view["days_missing"], view["missing_days"], view["green_on_schedule"]) == (0, [], True)
    assert view["days"][0]["status"] == "not_due" and view["days"][1]["status"] == "upcoming"

    # Reports from the declaration day on; the evening reminder and the morning queue never
    # name the arrival day.
    obs.run_days(case, DECLARED, date(2026, 3, 15))
    obs.report(case, date(2026, 3, 16), at=sh(2026, 3, 16, 10))
    obs.sweep(sh(2026, 3, 16, 20))
    assert obs.notes(case, level="applicant") == [] and obs.notes(case, kind="observation_missed_day") == []
    view = obs.status(case)
    assert view["days_missing"] == 0 and view["green_on_schedule"]

    assert obs.sweep(sh(2026, 3, 17, 0, 0)) == {"observation_end": 1}
    app = obs.app(case)
    assert (app.status, app.decision, app.decided_at) == ("approved", "observation_clear", sh(2026, 3, 17))


def test_r8_a_day_after_the_declaration_without_a_report_is_still_missing(obs):
    case = obs.arrive(at=sh(2026, 3, 4, 10), arrival=ARRIVED)
    obs.sweep(sh(2026, 3, 4, 20))
    obs.sweep(sh(2026, 3, 5, 8, 30))
    view = obs.status(case)
    assert view["missing_days"] == [DECLARED] and not view["green_on_schedule"]
    [queued] = obs.notes(case, kind="observation_missed_day")
    assert "2026-03-04 (day 2" in queued.message
