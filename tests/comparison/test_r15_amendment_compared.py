"""R15: an amended declaration (PUT .../declaration) is compared again. A hit that appears on the
amendment reaches the issuer like a first one (on the task and the queue, flagged as from the
amendment, in the timeline, notified), and a red-list hit on it withholds the automatic green
pass (R12) like a first one. On SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from cases.models import Application, Notification, Pass, SlaTimer
from cases.services import registries, sla_service
from tests.conftest import login
from tests.helpers import example, to_audit

NEW_PHONE = "13905320099"


def _case(api, clock) -> tuple[dict, dict]:
    body = example("standard", clock.now().date())
    case = api.post("/api/v1/applications", json=body).json()
    return body, case


def _import(store, clock, source: str, text: str) -> None:
    with store.session() as s:
        report = registries.import_csv(session=s, source=source, text=text, at=clock.now(), hash_key=store.settings.secret("idhash"))
        assert report.accepted == 1 and not report.rejected, report
        s.commit()


def _amend(api, case: dict, body: dict):
    r = api.put(f"/api/v1/applications/{case['id']}/declaration", json=body, headers={"X-Access-Token": case["access_token"]})
    assert r.status_code == 200, r.text
    return r.json()


def _from_amendment(hits: list[dict]) -> list[dict]:
    return [h for h in hits if h.get("from_amendment")]


def test_r15_a_new_hit_on_an_amended_declaration_reaches_the_issuer(api, seeded, clock):
    body, case = _case(api, clock)
    task_id = to_audit(seeded, clock, case["id"])
    issuer = login(api, "qingdao-issuer")
    before = api.get("/api/v1/audit-tasks", headers=issuer).json()[0]["comparison"]
    assert not _from_amendment(before["hits"])
    # The amendment gives a new phone number, whose roaming record shows a city (Shanghai) the
    # declaration does not list: a mismatch the first statement could not show.
    _import(seeded, clock, "roaming", f"phone,city,from,to,hours\n{NEW_PHONE},3100,today-5,today-4,30\n")
    assert _amend(api, case, {**body, "phone": NEW_PHONE})["declaration_version"] == 2

    queue = api.get("/api/v1/audit-tasks", headers=issuer).json()
    (row,) = [t for t in queue if t["task_id"] == task_id]
    new = _from_amendment(row["comparison"]["hits"])
    assert [(h["source"], h["outcome"], h["declaration_version"]) for h in new] == [("roaming", "mismatch", 2)]
    assert len(row["comparison"]["hits"]) == len(before["hits"]) + 1  # the first comparison's hits stay on the case
    assert row["comparison"]["outcome"] in ("mismatch", "risk_area", "close_contact", "confirmed")

    view = api.get(f"/api/v1/applications/{case['id']}", headers=issuer).json()
    compared = [e for e in view["timeline"] if e["action"] == "amendment_compared"]
    assert len(compared) == 1 and compared[0]["data"]["declaration_version"] == 2 and compared[0]["data"]["new_hits"] == 1
    with seeded.session() as s:
        told = s.exec(select(Notification).where(Notification.application_id == case["id"], Notification.kind == "amendment_hits")).all()
        assert [(n.recipient_level, n.recipient_code) for n in told] == [("issuer", "370202001001")]
    # The issuer's page shows it as from the amendment.
    from tests.ui.test_pages import sign_in, text_of

    sign_in(api, "qingdao-issuer")
    assert "new on the amendment (version 2)" in text_of(api.get(f"/issuer/tasks/{task_id}").text)
    assert "1 new on an amendment" in text_of(api.get("/issuer").text)


def test_r15_r12_a_red_list_hit_on_an_amendment_withholds_the_automatic_green_pass(api, seeded, clock):
    """The person is listed as a close contact after the first comparison; the amendment's
    comparison finds it. The auto-issue already scheduled (the case breached) issues nothing."""
    body, case = _case(api, clock)
    to_audit(seeded, clock, case["id"])
    with seeded.session() as s:
        app = s.get(Application, case["id"])
        assert not app.red_list
        s.add(SlaTimer(application_id=app.id, kind="auto_issue", level=None, due_at=clock.now() + timedelta(hours=1)))
        s.commit()
    _import(seeded, clock, "close_contacts", f"id_number,listed_at\n{body['id_number']},today-1\n")
    _amend(api, case, {**body, "address": "山东省青岛市市南区和平社区9号（演示）"})

    with seeded.session() as s:
        app = s.get(Application, case["id"])
        assert app.red_list and app.comparison_outcome == "close_contact"
    clock.advance(timedelta(hours=2))
    with seeded.session() as s:
        sla_service.sweep(session=s, now=clock.now(), settings=seeded.settings)
        s.commit()
    with seeded.session() as s:
        app = s.get(Application, case["id"])
        assert app.status == "awaiting_audit" and app.decision is None
        assert [p.colour for p in s.exec(select(Pass).where(Pass.application_id == app.id))] == []
    issuer = login(api, "qingdao-issuer")
    view = api.get(f"/api/v1/applications/{case['id']}", headers=issuer).json()
    actions = [e["action"] for e in view["timeline"]]
    assert "amendment_compared" in actions and "auto_issue_withheld" in actions and "decision_auto_issue" not in actions
    hits = _from_amendment(view["comparison"]["hits"])
    assert [(h["source"], h["outcome"]) for h in hits] == [("close_contacts", "close_contact")]
