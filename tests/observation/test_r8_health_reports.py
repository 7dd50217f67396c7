"""R8 on screen: an abnormal daily report (fever, symptoms) reaches the community's issuers
(notification, a count in the navigation, the Health reports page), and the issuer records the
outcome there: referred to a fever clinic keeps the observation held, cleared releases it; both
go on the case timeline and the applicant is told. Supervisors in scope read the list."""
from __future__ import annotations

from datetime import date

from cases.models import Application, Role
from cases.seed import DEMO_PASSWORD, create_user
from cases.services import observation
from tests.conftest import login
from tests.observation.conftest import COMMUNITY, sh
from tests.ui.test_pages import csrf, sign_in, text_of

DAY1 = date(2026, 3, 3)


def test_r8_abnormal_report_reaches_the_issuer_who_records_the_outcome(api, obs):
    case = obs.arrive(at=sh(2026, 3, 3, 9))
    reference = obs.app(case).reference
    report = obs.report(case, DAY1, at=sh(2026, 3, 3, 10), temperature=38.5, symptoms=("cough",))

    [urgent] = obs.notes(case, kind="observation_abnormal")
    assert (urgent.recipient_level, urgent.recipient_code) == ("issuer", COMMUNITY) and "/issuer/reports" in urgent.message

    assert sign_in(api, "heping-issuer").status_code == 303
    queue = api.get("/issuer").text
    assert 'href="/issuer/reports"' in queue and "Health reports" in text_of(queue) and '<span class="nav-count">1<' in queue
    page = text_of(api.get("/issuer/reports").text)
    for shown in (reference, "38.5 °C", "fever", "Cough", "day 1", "2026-03-03", "10:00", "Awaiting outcome", "Record outcome"):
        assert shown in page, shown
    token = csrf(api, "/issuer/reports")
    url = f"/issuer/reports/{report.id}/outcome"

    # A note is required: the form comes back naming it, nothing is recorded.
    r = api.post(url, data={"csrf_token": token, "result": "fever_clinic", "note": "  "}, follow_redirects=False)
    assert r.status_code == 422 and "the outcome must be described" in text_of(r.text)
    assert obs.events(case, "observation_abnormal_referred") == []
    r = api.post(url, data={"csrf_token": token, "result": "discharged", "note": "x"}, follow_redirects=False)
    assert r.status_code == 422 and "result must be one of" in text_of(r.text)

    # Referred to a fever clinic: still listed, the observation stays held.
    r = api.post(url, data={"csrf_token": token, "result": "fever_clinic", "note": "Sent to the district fever clinic at 11:00."}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/issuer/reports?done=fever_clinic"
    page = text_of(api.get("/issuer/reports?done=fever_clinic").text)
    assert "Referred to a fever clinic" in page and "Sent to the district fever clinic" in page
    view = obs.status(case)
    assert view["held"] and "fever clinic" in view["why"][0] and not view["green_on_schedule"]
    [referred] = obs.events(case, "observation_abnormal_referred")
    assert referred.reason == "Sent to the district fever clinic at 11:00." and referred.data["result"] == "fever_clinic"

    # The clinic's result: cleared -> the hold is released, the list and the count are empty.
    r = api.post(url, data={"csrf_token": token, "result": "cleared", "note": "Clinic: influenza test negative, 36.9 °C; home observation continues."}, follow_redirects=False)
    assert r.status_code == 303
    page = api.get("/issuer/reports?done=cleared").text
    assert "No abnormal report waits for an outcome." in text_of(page) and "nav-count" not in page
    view = obs.status(case)
    assert not view["held"] and view["green_on_schedule"]
    [resolved] = obs.events(case, "observation_abnormal_resolved")
    assert resolved.data["result"] == "cleared" and not resolved.data["held"]
    told = [n.message for n in obs.notes(case, level="applicant", kind="observation_outcome")]
    assert len(told) == 2 and "fever clinic" in told[0] and "cleared" in told[1]
    again = api.post(url, data={"csrf_token": token, "result": "cleared", "note": "again"}, follow_redirects=False)
    assert again.status_code == 409 and "an outcome was recorded already" in text_of(again.text)  # a colleague's second click


def test_r8_health_reports_are_scoped_supervisors_read_other_communities_do_not_see(api, obs, seeded, clock):
    case = obs.arrive(at=sh(2026, 3, 3, 9))
    reference = obs.app(case).reference
    report = obs.report(case, DAY1, at=sh(2026, 3, 3, 10), temperature=37.3)

    # Another community's issuer: nothing listed, no count, recording is refused as not found.
    assert sign_in(api, "qingdao-issuer").status_code == 303
    page = api.get("/issuer/reports").text
    assert reference not in page and "nav-count" not in page
    r = api.post(f"/issuer/reports/{report.id}/outcome", data={"csrf_token": csrf(api, "/issuer/reports"), "result": "cleared", "note": "not mine"}, follow_redirects=False)
    assert r.status_code == 404

    # The county supervisor reads the list (no form); recording is for issuers.
    assert sign_in(api, "lixia-supervisor").status_code == 303
    page = api.get("/issuer/reports").text
    assert reference in page and "37.3 °C" in text_of(page) and "Record outcome" not in page and 'href="/issuer/reports"' in page
    r = api.post(f"/issuer/reports/{report.id}/outcome", data={"csrf_token": csrf(api, "/issuer/reports"), "result": "cleared", "note": "x"}, follow_redirects=False)
    assert r.status_code == 403

    # The same through the API.
    listed = api.get("/api/v1/observation/abnormal-reports", headers=login(api, "lixia-supervisor"))
    assert listed.status_code == 200 and [(x["reference"], x["may_record"], x["fever"]) for x in listed.json()] == [(reference, False, True)]
    assert api.get("/api/v1/observation/abnormal-reports", headers=login(api, "qingdao-issuer")).json() == []
    mine = api.get("/api/v1/observation/abnormal-reports", headers=login(api, "heping-issuer")).json()
    assert [(x["report_id"], x["day_number"], x["may_record"], x["symptoms"]) for x in mine] == [(report.id, 1, True, [])]
    with seeded.session() as s:
        create_user(s, username="qingdao-city", password=DEMO_PASSWORD, role=Role.supervisor, at=clock.now(), region="370200")
        s.commit()
        assert s.get(Application, case).community_code == COMMUNITY
    assert api.get("/api/v1/observation/abnormal-reports", headers=login(api, "qingdao-city")).json() == []
    api.cookies.clear()
    assert api.get("/api/v1/observation/abnormal-reports").status_code == 401


def test_r8_api_referral_keeps_the_hold_until_cleared(api, obs):
    case = obs.arrive(at=sh(2026, 3, 3, 9))
    report = obs.report(case, DAY1, at=sh(2026, 3, 3, 10), temperature=38.0, symptoms=("fever",))
    issuer = login(api, "heping-issuer")
    url = f"/api/v1/observation/{case}/abnormal/{report.id}/outcome"
    r = api.post(url, json={"result": "fever_clinic", "outcome": "Referred to the fever clinic."}, headers=issuer)
    assert r.status_code == 200 and r.json()["observation"]["held"] and r.json()["report"]["resolved_at"] is None
    assert api.post(url, json={"result": "fever_clinic", "outcome": "again"}, headers=issuer).status_code == 409
    assert api.post(url, json={"result": "home", "outcome": "x"}, headers=issuer).status_code == 422
    [listed] = api.get("/api/v1/observation/abnormal-reports", headers=issuer).json()
    assert listed["referred_at"] and listed["referral_note"] == "Referred to the fever clinic."
    r = api.post(url, json={"result": "cleared", "outcome": "Clinic: not infectious."}, headers=issuer)
    assert r.status_code == 200 and not r.json()["observation"]["held"]
    assert api.get("/api/v1/observation/abnormal-reports", headers=issuer).json() == []


def test_r8_r9_a_referral_still_open_at_the_end_sends_the_case_to_audit_not_green(obs):
    case = obs.arrive(at=sh(2026, 3, 3, 9))
    report = obs.report(case, DAY1, at=sh(2026, 3, 3, 10), temperature=38.4)
    with obs.store.session() as s:
        observation.record_outcome(session=s, application=s.get(Application, case), report_id=report.id, outcome="Sent to the fever clinic.", result="fever_clinic", by="heping-issuer", at=sh(2026, 3, 3, 11))
        s.commit()
    obs.run_days(case, date(2026, 3, 4), date(2026, 3, 15))
    obs.report(case, date(2026, 3, 16), at=sh(2026, 3, 16, 10))
    assert obs.sweep(sh(2026, 3, 17, 0, 0))["observation_end"] == 1
    app = obs.app(case)
    assert (app.status, app.decision) == ("awaiting_audit", None)
    [needs] = obs.events(case, "observation_needs_audit")
    assert needs.data["open_abnormal"] == [report.id]
