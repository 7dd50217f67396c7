"""R6-R9 through the API with a fast-forwarded clock: arrival -> yellow, 14 daily reports,
the sweep ends the period, the flow's last step issues green and revokes yellow."""
from __future__ import annotations

from datetime import timedelta

from cases.models import Application
from cases.services import sla_service, workflow
from tests.conftest import login
from tests.observation.conftest import sh

URL = "/api/v1/applications"


def _arrive(api, obs, at):
    obs.clock.set(at)
    created = api.post(URL, json=obs.body())
    assert created.status_code == 201, created.text
    case = created.json()
    assert case["pass"]["colour"] == "yellow"  # R7: at once
    obs.open(case["id"])  # declare -> compare -> open_observation, as the flow would
    return case["id"], {"X-Access-Token": case["access_token"]}


def test_r9_api_end_to_end_with_a_fast_forwarded_clock(api, obs, seeded):
    case_id, token = _arrive(api, obs, sh(2026, 3, 3, 9))
    view = api.get(f"{URL}/{case_id}/observation", headers=token).json()
    assert view["state"] == "observing" and view["period"]["ends_at"] == "2026-03-17T00:00:00+08:00"
    assert view["period"]["countdown_seconds"] == 13 * 86400 + 15 * 3600
    assert [d["status"] for d in view["days"]] == ["upcoming"] * 14

    for n in range(14):
        obs.clock.set(sh(2026, 3, 3, 10) + timedelta(days=n))
        r = api.post(f"{URL}/{case_id}/reports", json={"temperature": 36.4 + n / 100, "symptoms": [], "location_confirmed": True}, headers=token)
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["report"]["day"] == (sh(2026, 3, 3) + timedelta(days=n)).date().isoformat() and not body["report"]["late"]
        assert (body["observation"]["days_reported"], body["observation"]["days_missing"]) == (n + 1, 0)
        assert body["observation"]["countdown_seconds"] == (13 - n) * 86400 + 14 * 3600
        obs.sweep(sh(2026, 3, 3, 21) + timedelta(days=n))  # evenings pass: nothing to remind

    view = api.get(f"{URL}/{case_id}/observation", params={"access_token": token["X-Access-Token"]}).json()
    assert [d["status"] for d in view["days"]] == ["reported"] * 14 and view["green_on_schedule"]
    assert obs.notes(case_id, level="applicant") == [] and obs.notes(case_id, kind="observation_missed_day") == []

    obs.clock.set(sh(2026, 3, 17, 0, 5))
    with seeded.session() as s:
        assert sla_service.sweep(session=s, now=obs.clock.now(), settings=seeded.settings) == {"observation_end": 1}
        app = s.get(Application, case_id)
        assert (app.status, app.decided_at) == ("approved", sh(2026, 3, 17))  # the true end, though the sweep ran at 00:05
        workflow.finish(session=s, application=app, at=obs.clock.now(), settings=seeded.settings)
        s.commit()

    case = api.get(f"{URL}/{case_id}", headers=token).json()
    assert case["status"] == "completed" and case["decision"] == "observation_clear"
    assert case["pass"]["colour"] == "green"
    history = [(e["action"], e["after"] or e["before"]) for e in case["timeline"] if e["action"] in ("pass_issued", "pass_revoked")]
    assert history == [("pass_issued", "yellow"), ("pass_revoked", "yellow"), ("pass_issued", "green")]
    assert [e["action"] for e in case["timeline"]].count("daily_report") == 14
    assert api.get(f"{URL}/{case_id}/observation", headers=token).json()["state"] == "ended"
    late = api.post(f"{URL}/{case_id}/reports", json={"temperature": 36.5, "location_confirmed": True}, headers=token)
    assert late.status_code == 409


def test_r8_api_daily_report_rules(api, obs):
    case_id, token = _arrive(api, obs, sh(2026, 3, 3, 0, 0, 30))  # 2 March 16:00 UTC: the day is Shanghai's
    post = lambda body, **kw: api.post(f"{URL}/{case_id}/reports", json=body, **({"headers": token} | kw))  # noqa: E731
    ok = {"temperature": 36.5, "symptoms": [], "location_confirmed": True}

    first = post(ok)
    assert first.status_code == 201, first.text
    assert first.json()["report"]["day"] == "2026-03-03"
    obs_view = first.json()["observation"]
    assert (obs_view["day_1"], obs_view["last_day"], obs_view["ends_on"]) == ("2026-03-03", "2026-03-16", "2026-03-17")
    assert post(ok).status_code == 409  # one a day
    assert post({**ok, "day": "2026-03-03"}).status_code == 409

    future = post({**ok, "day": "2026-03-04"})
    assert future.status_code == 422 and future.json()["detail"][0]["loc"] == ["body", "day"]
    assert post({**ok, "day": "2026-03-02"}).status_code == 422  # before day 1
    assert post({**ok, "temperature": 45}).status_code == 422
    assert post({**ok, "temperature": 33.9}).status_code == 422
    assert post({**ok, "symptoms": ["headache"]}).status_code == 422  # not on the closed list
    assert post({**ok, "physical_exam": "done"}).status_code == 422  # no extra conditions (R16)
    assert post({"temperature": 36.5}).status_code == 422  # location confirmation is required
    assert post(ok, headers={}).status_code == 404
    assert post(ok, headers={"X-Access-Token": "0" * 40}).status_code == 404

    # A day later: yesterday is missed until reported late; then today's via ?access_token=.
    obs.clock.set(sh(2026, 3, 5, 9))
    view = api.get(f"{URL}/{case_id}/observation", headers=token).json()
    assert [d["status"] for d in view["days"][:4]] == ["reported", "missing", "upcoming", "upcoming"]
    late = post({**ok, "day": "2026-03-04", "symptoms": ["Cough"]})
    assert late.status_code == 201 and late.json()["report"]["late"] and late.json()["report"]["abnormal"]
    assert late.json()["report"]["symptoms"] == ["cough"]
    today = api.post(f"{URL}/{case_id}/reports", params={"access_token": token["X-Access-Token"]}, json=ok)
    assert today.status_code == 201
    view = api.get(f"{URL}/{case_id}/observation", headers=token).json()
    assert [d["status"] for d in view["days"][:4]] == ["reported", "abnormal", "reported", "upcoming"]
    assert view["held"] and view["days_missing"] == 0

    # Staff who may read the case see the same; others do not learn it exists.
    assert api.get(f"{URL}/{case_id}/observation", headers=login(api, "heping-issuer")).status_code == 200
    assert api.get(f"{URL}/{case_id}/observation", headers=login(api, "qingdao-issuer")).status_code == 404


def test_r8_api_community_records_the_outcome_of_an_abnormal_report(api, obs):
    case_id, token = _arrive(api, obs, sh(2026, 3, 3, 9))
    fever = api.post(f"{URL}/{case_id}/reports", json={"temperature": 38.2, "symptoms": ["fever"], "location_confirmed": True}, headers=token)
    assert fever.status_code == 201 and fever.json()["observation"]["held"]
    report_id = fever.json()["report"]["id"]
    assert "38.2 °C" in fever.json()["observation"]["why"][0]
    [urgent] = obs.notes(case_id, kind="observation_abnormal")
    assert urgent.recipient_level == "issuer"

    url = f"/api/v1/observation/{case_id}/abnormal/{report_id}/outcome"
    body = {"outcome": "Visited at 11:00: 36.9 °C after rest, no other symptoms; keeps isolating."}
    assert api.post(url, json=body).status_code == 401
    assert api.post(url, json=body, headers=token).status_code == 401  # the applicant cannot clear their own report
    assert api.post(url, json=body, headers=login(api, "heping-head")).status_code == 403
    assert api.post(url, json=body, headers=login(api, "qingdao-issuer")).status_code == 404  # another community
    issuer = login(api, "heping-issuer")
    assert api.post(url, json={"outcome": "   "}, headers=issuer).status_code == 422
    assert api.post(f"/api/v1/observation/{case_id}/abnormal/999999/outcome", json=body, headers=issuer).status_code == 404

    done = api.post(url, json=body, headers=issuer)
    assert done.status_code == 200, done.text
    assert done.json()["report"]["resolved_at"] and not done.json()["observation"]["held"]
    assert api.post(url, json=body, headers=issuer).status_code == 409  # recorded once

    view = api.get(f"{URL}/{case_id}/observation", headers=token).json()
    assert not view["held"] and view["why"] == [] and view["days"][0]["report"]["outcome"] == body["outcome"]
    case = api.get(f"{URL}/{case_id}", headers=token).json()
    [event] = [e for e in case["timeline"] if e["action"] == "observation_abnormal_resolved"]
    assert event["reason"] == body["outcome"] and event["data"]["report_id"] == report_id
