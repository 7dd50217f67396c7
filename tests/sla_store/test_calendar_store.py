"""R11/R12 at the turn of a year the official calendar does not know yet: intake goes on with
provisional deadlines, importing the State Council's schedule recomputes them, and the
provincial office is warned once from 1 November."""
from __future__ import annotations

import hashlib
from datetime import datetime

from sqlmodel import select

from cases.events import timeline
from cases.models import Application, AuditTask, CaseStatus, Notification
from cases.services import calendar_service, sla_service
from sla.schedule import parse_schedule
from tests.conftest import login
from tests.ui.test_pages import text_of
from tests.sla_store.sla_support import (
    local,
    open_case,
    seed_store,
    show,
    sweep,
    timers,
)

# A test schedule of 2027 in which Saturday 2 January is worked (a made-up 调休): it moves a
# deadline that the provisional calendar puts on Monday 4 January.
SCHEDULE_2027 = """\
year 2027
2027-01-01 holiday 元旦
2027-01-02 workday 元旦调休 (test data)
2027-02-05..2027-02-11 holiday 春节
"""


def _import(store, at: datetime, text: str = SCHEDULE_2027):
    with store.session() as s:
        result = calendar_service.import_schedule(
            session=s, schedule=parse_schedule(text), at=at, by="test", source_name="calendar-2027.txt",
            sha256=hashlib.sha256(text.encode()).hexdigest(), settings=store.settings,
        )
        s.commit()
        return result


def test_r11_case_submitted_31_december_gets_a_provisional_deadline_and_reaches_the_queue(store, clock):
    clock.set(local("2026-12-31 16:00"))  # Thursday; chinesecalendar 1.11 knows nothing of 2027
    seed_store(store, clock)
    case, task_id = open_case(store, clock)
    with store.session() as s:
        app = s.get(Application, case)
        assert app.status == CaseStatus.awaiting_audit and s.get(AuditTask, task_id) is not None
        # 1.5 h on Thursday; Friday 1 January is New Year's Day; Monday 08:30 + 3.5 h + 1 h.
        assert show(app.sla_due_at) == "2027-01-04 14:30" and app.sla_provisional
        ladder = timers(s, case)
        assert ladder["breach"].provisional and ladder["city_1wd"].provisional
        started = [e for e in timeline(s, case) if e.action == "sla_started"]
        assert started[0].data["provisional"] is True


def test_r11_provisional_deadline_shows_in_the_issuer_queue_and_the_case_view(api, store, clock):
    clock.set(local("2026-12-31 16:00"))
    case, _ = open_case(store, clock)
    # Read back at a time before the machine's clock: PyJWT refuses a token whose `iat` lies
    # ahead of the real time, and the simulated 31 December may still be in the future.
    clock.set(local("2026-12-01 09:00"))
    queue = api.get("/api/v1/audit-tasks", headers=login(api, "qingdao-issuer")).json()
    assert isinstance(queue, list), queue
    item = next(t for t in queue if t["application_id"] == case)
    assert item["provisional"] is True and item["due_at"].startswith("2027-01-04T06:30")
    view = api.get(f"/api/v1/applications/{case}", headers=login(api, "qingdao-issuer")).json()
    assert view["sla"]["provisional"] is True


def test_r11_import_recomputes_open_provisional_deadlines_and_the_sweep_acts_on_them(store, clock):
    clock.set(local("2026-12-31 16:00"))
    seed_store(store, clock)
    case, _ = open_case(store, clock)
    clock.set(local("2026-12-31 17:00"))
    result = _import(store, clock.now())
    assert [(c, show(old), show(new)) for c, old, new in result.recomputed] == [(case, "2027-01-04 14:30", "2027-01-02 14:30")]
    with store.session() as s:
        app = s.get(Application, case)
        assert show(app.sla_due_at) == "2027-01-02 14:30" and not app.sla_provisional
        ladder = timers(s, case)
        assert show(ladder["breach"].due_at) == "2027-01-02 14:30" and ladder["breach"].pending and not ladder["breach"].provisional
        recomputed = [e for e in timeline(s, case) if e.action == "sla_recomputed"]
        assert len(recomputed) == 1 and "official schedule of 2027 imported" in recomputed[0].reason
        assert recomputed[0].data["old_due_at"].startswith("2027-01-04") and recomputed[0].data["due_at"].startswith("2027-01-02")
        imported = s.exec(select(Notification).where(Notification.kind == "calendar_schedule_imported")).all()
        assert len(imported) == 1 and imported[0].recipient_level == "province"
    # The sweep breaches on the new deadline, not on the provisional one two days later.
    clock.set(local("2027-01-02 14:29"))
    assert "breach" not in sweep(store, clock)
    clock.set(local("2027-01-02 14:31"))
    assert sweep(store, clock).get("breach") == 1
    with store.session() as s:
        assert show(s.get(Application, case).breached_at) == "2027-01-02 14:30"
    # A second import of the same year recomputes nothing more: no deadline is provisional.
    assert _import(store, clock.now()).recomputed == [] and _import(store, clock.now()).replaced


def test_r11_import_keeps_provincial_overrides(store, clock):
    clock.set(local("2026-12-31 16:00"))
    seed_store(store, clock)
    from cases.models import CalendarOverride

    with store.session() as s:
        s.add(CalendarOverride(day=local("2027-01-02 00:00").date(), is_workday=False, reason="provincial: no work on 2 Jan", created_at=clock.now()))
        s.commit()
    result = _import(store, clock.now())
    assert [str(d) for d in result.kept_provincial] == ["2027-01-02"]
    with store.session() as s:
        cal = sla_service.calendar(s, store.settings)
        assert cal.covers(2027) and not cal.is_workday(local("2027-01-02 00:00").date())


def test_r11_missing_schedule_notifies_the_province_once_from_1_november(store, clock):
    clock.set(local("2026-10-31 23:00"))
    seed_store(store, clock)

    def missing():
        with store.session() as s:
            return s.exec(select(Notification).where(Notification.kind == calendar_service.MISSING_KIND)).all()

    sweep(store, clock)
    assert missing() == []  # October: nothing yet
    clock.set(local("2026-11-01 00:01"))
    for _ in range(3):
        sweep(store, clock)
    rows = missing()
    assert len(rows) == 1 and rows[0].recipient_level == "province" and "2027" in rows[0].message
    clock.set(local("2026-12-30 10:00"))
    sweep(store, clock)
    assert len(missing()) == 1
    # Imported: no more warning, even in the new year.
    _import(store, clock.now())
    clock.set(local("2027-01-05 10:00"))
    sweep(store, clock)
    assert len(missing()) == 1


def test_r11_healthz_degraded_while_next_years_schedule_is_missing(api, store, clock):
    clock.set(local("2026-10-31 12:00"))
    body = api.get("/healthz").json()
    assert body["components"]["calendar"]["status"] == "ok"
    clock.set(local("2026-11-01 09:00"))
    body = api.get("/healthz").json()
    assert body["status"] == "degraded" and body["components"]["calendar"]["status"] == "degraded"
    assert "2027" in body["components"]["calendar"]["reason"]
    _import(store, clock.now())
    body = api.get("/healthz").json()
    assert body["components"]["calendar"]["status"] == "ok" and body["status"] in ("ok", "degraded")  # Prefect may be down in tests
    assert body["components"]["calendar"]["official_years"][-1] == 2027


def test_r11_issuer_pages_mark_the_provisional_deadline(api, store, clock):
    from tests.ui.test_pages import sign_in

    clock.set(local("2026-12-31 16:00"))
    case, task_id = open_case(store, clock)
    clock.set(local("2026-12-01 09:00"))  # before the machine's clock (see above)
    assert sign_in(api, "qingdao-issuer").status_code == 303
    queue = api.get("/issuer")
    assert queue.status_code == 200 and "provisional" in text_of(queue.text)
    assert "暂定" in api.get("/issuer", headers={"Accept-Language": "zh-CN"}).text
    task_page = api.get(f"/issuer/tasks/{task_id}")
    assert task_page.status_code == 200 and "provisional" in task_page.text
    # After the import the mark is gone.
    _import(store, clock.now())
    assert "暂定" not in api.get("/issuer").text


def test_r11_missing_schedule_notice_is_once_under_concurrent_sweeps(store, clock):
    import threading

    clock.set(local("2026-11-02 09:00"))
    seed_store(store, clock)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def run():
        try:
            with store.session() as s:
                barrier.wait()
                calendar_service.notify_missing_schedule(session=s, now=clock.now(), settings=store.settings)
                s.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    with store.session() as s:
        rows = s.exec(select(Notification).where(Notification.kind == calendar_service.MISSING_KIND)).all()
    # SQLite may refuse a concurrent writer ("database is locked"): that sweep notifies nothing.
    assert all("locked" in str(e) for e in errors), errors
    assert len(rows) == 1


def test_r10_counter_due_counts_clock_hours_and_is_not_provisional(store, clock):
    clock.set(local("2026-12-31 15:00"))
    seed_store(store, clock)
    case, _ = open_case(store, clock, channel="counter")
    with store.session() as s:
        app = s.get(Application, case)
        assert show(app.sla_due_at) == "2026-12-31 21:00" and not app.sla_provisional
        ladder = timers(s, case)
        assert not ladder["breach"].provisional and ladder["city_1wd"].provisional  # a working day after: 2027
