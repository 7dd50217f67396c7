"""Lost case link: a one-time code by SMS to the declared phone, then a fresh access link (the old
one revoked). The answer never tells whether the details matched; codes expire, run out of
attempts and are single use; requests are rate-limited; the case timeline shows every step."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlmodel import select

from cases.models import CaseEvent
from cases.recovery import service, sms
from cases.recovery.models import RecoveryChallenge
from tests.helpers import example

PHONE = "13905320002"  # the "standard" example's phone, as check_mobile normalises it
WHO = {"id_type": "resident_id", "id_number": "370202198511200113", "name": "王强"}


@pytest.fixture
def case(api, clock):
    r = api.post("/api/v1/applications", json=example("standard", clock.now().date()))
    assert r.status_code == 201, r.text
    return r.json()


def _request(api, case, **changes):
    return api.post("/api/v1/recovery/request", json={"reference": case["reference"], **WHO, **changes})


def _last_code(phone: str = PHONE) -> str:
    rows = sms.sent_messages(phone)
    assert rows, "no SMS in the development outbox"
    return re.search(r"\b(\d{6})\b", rows[-1]["text"]).group(1)


def _events(store, case_id: str, prefix: str = "link_recovery") -> list[CaseEvent]:
    with store.session() as s:
        return [e for e in s.exec(select(CaseEvent).where(CaseEvent.application_id == case_id).order_by(CaseEvent.seq)) if e.action.startswith(prefix)]


def _read(api, case, token):
    return api.get(f"/api/v1/applications/{case['id']}", params={"access_token": token})


def test_full_flow_gives_a_fresh_link_and_revokes_the_old_one(api, seeded, case):
    r = _request(api, case)
    assert r.status_code == 202, r.text
    body = r.json()
    assert "If the details match" in body["message"] and PHONE[-2:] not in body["message"]
    code = _last_code()
    assert case["reference"] in sms.sent_messages(PHONE)[-1]["text"]
    with seeded.session() as s:  # stored hashed only
        stored = s.get(RecoveryChallenge, body["challenge"])
        assert stored.matched and code not in stored.code_hash and len(stored.code_hash) == 64
    r = api.post("/api/v1/recovery/verify", json={"challenge": body["challenge"], "code": code})
    assert r.status_code == 200, r.text
    fresh = r.json()
    assert fresh["case_id"] == case["id"] and fresh["access_token"] != case["access_token"]
    assert _read(api, case, fresh["access_token"]).status_code == 200
    assert _read(api, case, case["access_token"]).status_code == 404  # the lost link no longer opens the case
    assert api.get(fresh["case_url"]).status_code == 200
    events = _events(seeded, case["id"])
    assert [e.action for e in events] == ["link_recovery_requested", "link_recovery_code_sent", "link_recovery_succeeded"]
    assert events[1].data["phone"] == "139****0002"
    assert all(code not in f"{e.reason}{e.data}" for e in events)  # the code is never on the timeline


def test_mismatch_answers_identically_and_sends_nothing(api, seeded, case):
    answers = [
        _request(api, case, name="李四"),
        _request(api, case, id_number="370102199003070024"),
        _request(api, case, id_type="passport", id_number="E12345678"),
        _request(api, case, reference="HP20260303-ZZZZ-ZZZZ"),
    ]
    assert sms.sent_messages() == []
    for r in answers:
        assert r.status_code == 202
        assert set(r.json()) == {"challenge", "expires_at", "message"}
        assert r.json()["message"] == answers[0].json()["message"] and r.json()["expires_at"] == answers[0].json()["expires_at"]
    # the code step behaves like a real one: "wrong code, 4 attempts left", never success
    decoy = api.post("/api/v1/recovery/verify", json={"challenge": answers[0].json()["challenge"], "code": "123456"})
    real = _request(api, case).json()
    wrong = api.post("/api/v1/recovery/verify", json={"challenge": real["challenge"], "code": f"{(int(_last_code()) + 1) % 10**6:06d}"})
    assert decoy.status_code == wrong.status_code == 422 and decoy.json() == wrong.json()
    assert wrong.json()["detail"][0]["loc"] == ["body", "code"]
    # staff see the failed identity checks on the case
    requested = [e for e in _events(seeded, case["id"]) if e.action == "link_recovery_requested"]
    assert [e.data["details_matched"] for e in requested] == [False, False, False, True]


def test_bad_fields_are_named(api, case):
    r = _request(api, case, reference="nonsense")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "reference"]
    r = _request(api, case, id_number="123")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "id_number"]
    r = api.post("/api/v1/recovery/verify", json={"challenge": "abc", "code": "12ab56"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "code"]


def test_wrong_code_attempts_run_out(api, seeded, case):
    challenge = _request(api, case).json()["challenge"]
    code = _last_code()
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    messages = [api.post("/api/v1/recovery/verify", json={"challenge": challenge, "code": wrong}).json()["detail"][0]["msg"] for _ in range(service.MAX_ATTEMPTS)]
    assert messages[0] == "wrong code; 4 attempts left" and "last of 5" in messages[-1]
    r = api.post("/api/v1/recovery/verify", json={"challenge": challenge, "code": code})  # the right code, too late
    assert r.status_code == 422 and "too many wrong codes" in r.json()["detail"][0]["msg"]
    assert _read(api, case, case["access_token"]).status_code == 200  # nothing changed
    failed = [e for e in _events(seeded, case["id"]) if e.action == "link_recovery_failed"]
    assert len(failed) == 6 and failed[0].reason == "wrong code (attempt 1 of 5)"


def test_code_expires_after_ten_minutes(api, seeded, case, clock):
    challenge = _request(api, case).json()["challenge"]
    code = _last_code()
    clock.set(clock.now() + timedelta(minutes=service.CODE_MINUTES, seconds=1))
    r = api.post("/api/v1/recovery/verify", json={"challenge": challenge, "code": code})
    assert r.status_code == 422 and "expired" in r.json()["detail"][0]["msg"]
    assert _events(seeded, case["id"])[-1].reason == "code expired"


def test_code_is_single_use_and_a_newer_code_replaces_the_older(api, case, monkeypatch):
    first = _request(api, case).json()["challenge"]
    first_code = _last_code()
    second = _request(api, case).json()["challenge"]
    second_code = _last_code()
    r = api.post("/api/v1/recovery/verify", json={"challenge": first, "code": first_code})
    assert r.status_code == 422 and "replaced by a newer one" in r.json()["detail"][0]["msg"]
    assert api.post("/api/v1/recovery/verify", json={"challenge": second, "code": second_code}).status_code == 200
    r = api.post("/api/v1/recovery/verify", json={"challenge": second, "code": second_code})
    assert r.status_code == 422 and "already used" in r.json()["detail"][0]["msg"]


def test_rate_limit_per_reference(api, seeded, case, monkeypatch):
    monkeypatch.setattr(service.recovery_settings(), "recovery_per_reference", 2)
    assert [_request(api, case).status_code for _ in range(2)] == [202, 202]
    r = _request(api, case)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0 and "case number" in r.json()["detail"]
    # a limit on what was typed, so the same for a reference that does not exist
    other = {"reference": "HP20260303-ZZZZ-ZZZZ"}
    assert [_request(api, case, **other).status_code for _ in range(3)] == [202, 202, 429]


def test_rate_limit_per_client_shared_by_api_and_pages(api, seeded, case, monkeypatch):
    monkeypatch.setattr(seeded.settings, "rate_limit_recovery", 3)
    assert [_request(api, case).status_code for _ in range(2)] == [202, 202]
    assert api.post("/cases/recover", data={"reference": case["reference"], **WHO}, follow_redirects=False).status_code == 303
    r = _request(api, case)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert api.post("/cases/recover", data={"reference": case["reference"], **WHO}).status_code == 429


def test_phone_limit_withholds_the_sms_without_telling(api, seeded, case, monkeypatch):
    monkeypatch.setattr(service.recovery_settings(), "recovery_per_phone", 1)
    first, second = _request(api, case), _request(api, case)
    assert first.status_code == second.status_code == 202 and first.json()["message"] == second.json()["message"]
    assert len(sms.sent_messages(PHONE)) == 1
    assert _events(seeded, case["id"])[-1].action == "link_recovery_code_withheld"


def test_pages_form_code_and_redirect_to_the_case(api, seeded, case):
    find = api.get("/cases")
    assert 'href="/cases/recover"' in find.text
    form = api.get("/cases/recover", params={"case": case["reference"]})
    assert form.status_code == 200 and f'value="{case["reference"]}"' in form.text
    for field in ("reference", "id_type", "id_number", "name"):
        assert f'<label for="{field}">' in form.text
    # a mismatch and a match lead to the same page
    miss = api.post("/cases/recover", data={"reference": case["reference"], **WHO, "name": "李四"}, follow_redirects=False)
    hit = api.post("/cases/recover", data={"reference": case["reference"], **WHO}, follow_redirects=False)
    assert miss.status_code == hit.status_code == 303
    assert miss.headers["location"].startswith("/cases/recover/code?challenge=")
    miss_page, code_page = api.get(miss.headers["location"]), api.get(hit.headers["location"])
    strip = re.compile(r'value="[^"]*"|next=[^"]*"')  # the language switcher links back to the page's own address
    assert strip.sub("", miss_page.text) == strip.sub("", code_page.text)
    fields = dict(re.findall(r'name="(challenge|form_token)" value="([^"]+)"', code_page.text))
    wrong = api.post("/cases/recover/code", data={**fields, "code": "000000" if _last_code() != "000000" else "111111"})
    assert wrong.status_code == 422 and "wrong code" in wrong.text and 'aria-invalid="true"' in wrong.text
    forged = api.post("/cases/recover/code", data={"challenge": fields["challenge"], "code": _last_code()})
    assert forged.status_code == 403  # no form token
    done = api.post("/cases/recover/code", data={**fields, "code": _last_code()}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith(f"/cases/{case['id']}?access_token=")
    new_token = done.headers["location"].split("access_token=")[1]
    assert new_token != case["access_token"]
    page = api.get(done.headers["location"])
    assert page.status_code == 200 and case["reference"] in page.text
    assert api.get(f"/cases/{case['id']}", params={"access_token": case["access_token"]}).status_code == 404


def test_page_names_the_bad_field(api, case):
    r = api.post("/cases/recover", data={"reference": "HP-nope", **WHO})
    assert r.status_code == 422 and 'id="err-reference"' in r.text


def test_dev_outbox_is_readable_from_the_command_line(api, case, capsys):
    _request(api, case)
    assert sms.main(["--phone", PHONE]) == 0
    assert _last_code() in capsys.readouterr().out


def test_parallel_guesses_cannot_exceed_the_attempts(api, seeded, case, clock):
    """Eight guesses at once: five are counted as wrong, the rest refused as too many."""
    import threading

    from cases.errors import Invalid

    challenge = _request(api, case).json()["challenge"]
    wrong = f"{(int(_last_code()) + 1) % 10**6:06d}"
    barrier, answers = threading.Barrier(8), []

    def guess():
        with seeded.session() as s:
            barrier.wait()
            try:
                service.verify_code(session=s, settings=seeded.settings, at=clock.now(), challenge_id=challenge, code=wrong, client="203.0.113.9")
            except Invalid as exc:
                answers.append(exc.message)

    threads = [threading.Thread(target=guess) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 8
    assert sum(m.startswith("wrong code") for m in answers) == 5 and sum(m.startswith("too many") for m in answers) == 3
    with seeded.session() as s:
        assert s.get(RecoveryChallenge, challenge).attempts == 5
    assert _events(seeded, case["id"])[-1].data["client"] == "203.0.113.0/24"


def test_signed_in_browser_needs_its_csrf_token(api, case):
    from tests.conftest import login
    from ui.pages import COOKIE

    api.cookies.set(COOKIE, login(api, "heping-issuer")["Authorization"].removeprefix("Bearer "))
    r = api.post("/cases/recover", data={"reference": case["reference"], **WHO})
    assert r.status_code == 403 and sms.sent_messages() == []
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', api.get("/cases/recover").text).group(1)
    r = api.post("/cases/recover", data={"reference": case["reference"], **WHO, "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and len(sms.sent_messages(PHONE)) == 1
