"""The checkpoint operator's page: a typed card number needs the operator's sign-in (R3), a QR
is verified for anyone (R4), a "Scan with camera" button from same-origin scripts, and after a
DENY the page says what the person should do next (R4, R7-R9, R2)."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlmodel import select

from cases.models import Application, Pass
from cases.services import checkpoint
from cases.services.passes import issue_pass
from tests.helpers import example
from tests.ui.test_pages import csrf, sign_in, text_of
from tests.verify_support import green_pass, revoke


def next_steps(page: str) -> str:
    m = re.search(r'<section class="card next-steps".*?</section>', page, re.S)
    return text_of(m.group(0)) if m else ""


def verify_qr(api, token: str, temperature: str = "36.5", lang: str = "en"):
    data = {"qr": token, "temperature": temperature}
    if "hp_session" in api.cookies:
        data["csrf_token"] = csrf(api, "/checkpoint")
    return api.post("/checkpoint", data=data, headers={"Accept-Language": lang})


def zh_steps(api, token: str, temperature: str = "36.5") -> str:
    """The same advice on a page asked for in Chinese (one language per page)."""
    return next_steps(verify_qr(api, token, temperature, lang="zh-CN").text)


@pytest.fixture
def green(api, seeded, clock):
    return green_pass(api, seeded, clock)


def test_r3_signed_out_the_page_offers_the_qr_and_a_sign_in_for_card_numbers(api):
    page = api.get("/checkpoint")
    assert page.status_code == 200 and '<label for="qr">' in page.text
    assert 'name="card_number"' not in page.text
    assert 'href="/login?next=%2Fcheckpoint"' in page.text and "signed-in checkpoint operator" in text_of(page.text)


def test_r3_a_card_number_posted_without_the_checkpoint_sign_in_reveals_nothing(api, green):
    r = api.post("/checkpoint", data={"card_number": green["card_number"], "temperature": "36.5"})
    words = text_of(r.text)
    assert r.status_code == 401 and "Only a signed-in checkpoint operator may verify a card number" in words
    assert 'id="err-code"' in r.text and "verdict" not in r.text and "Green code" not in words and "王*" not in words
    assert sign_in(api, "heping-issuer").status_code == 303
    other = api.post("/checkpoint", data={"card_number": green["card_number"], "temperature": "36.5", "csrf_token": csrf(api, "/checkpoint")})
    assert other.status_code == 403 and "王*" not in other.text and 'name="card_number"' not in other.text


def test_r3_the_checkpoint_operator_types_a_card_number(api, green):
    assert sign_in(api, "checkpoint").status_code == 303
    page = api.get("/checkpoint")
    assert '<label for="card_number">' in page.text
    r = api.post("/checkpoint", data={"card_number": green["card_number"], "temperature": "36.5", "csrf_token": hidden_csrf(page.text)})
    assert r.status_code == 200 and "verdict-pass" in r.text and "王*" in r.text


def hidden_csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]*)"', page).group(1)


def test_r4_a_qr_is_verified_for_anyone(api, green):
    r = verify_qr(api, green["token"])
    assert r.status_code == 200 and "verdict-pass" in r.text and next_steps(r.text) == ""


def test_camera_scan_is_an_enhancement_from_same_origin_files(api):
    page = api.get("/checkpoint")
    # Hidden until checkpoint.js finds a camera API; the form works without it.
    assert re.search(r'<div class="camera-scan" id="camera-scan" hidden>', page.text)
    assert "Scan with camera" in text_of(page.text) and "摄像头扫码" in api.get("/checkpoint", headers={"Accept-Language": "zh-CN"}).text
    scripts = re.findall(r'<script src="([^"]+)"', page.text)
    assert "/static/vendor/qr-scanner/qr-scanner.umd.min.js" in scripts and "/static/checkpoint.js" in scripts
    assert all(src.startswith("/") and not src.startswith("//") for src in scripts)
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for path in scripts + ["/static/vendor/qr-scanner/qr-scanner-worker.min.js", "/static/vendor/qr-scanner/LICENSE"]:
        r = api.get(path)
        assert r.status_code == 200, path
        if path.endswith(".js"):
            # Nothing loaded from elsewhere, no Blob-URL worker (the CSP would refuse it).
            assert "https://" not in r.text and "http://" not in r.text, path
    js = api.get("/static/checkpoint.js").text
    assert "/static/vendor/qr-scanner/qr-scanner-worker.min.js" in js and "getUserMedia" in js and "requestSubmit" in js


def test_r4_after_a_fever_the_page_sends_the_person_to_a_fever_clinic(api, green):
    r = verify_qr(api, green["token"], "38.2")
    steps = next_steps(r.text)
    assert "DENY" in text_of(r.text) and "nearest fever clinic" in steps and "发热门诊" in zh_steps(api, green["token"], "38.2") and "37.3 °C" in steps
    assert "Yellow code" not in steps


def test_r7_r8_r9_after_a_yellow_code_the_page_states_the_observation_rules(api, seeded, clock):
    created = api.post("/api/v1/applications", json=example("arrival", clock.now().date())).json()
    with seeded.session() as s:
        token = s.exec(select(Pass.token).where(Pass.application_id == created["id"])).one()
    steps = next_steps(verify_qr(api, token).text)
    assert "health report every day" in steps and "green after 14 days" in steps and "每天报告" in zh_steps(api, token)
    assert "fever clinic" not in steps


def test_r2_after_an_expired_pass_the_page_says_renew(api, green, clock):
    clock.advance(timedelta(days=15))
    checkpoint.invalidate()
    steps = next_steps(verify_qr(api, green["token"]).text)
    assert "Expired" in steps and "applies again (renews)" in steps and 'href="/apply"' in verify_qr(api, green["token"]).text


def test_r2_after_a_revoked_or_superseded_pass_the_page_asks_for_the_newest(api, seeded, clock, green):
    revoke(api, green["id"])
    steps = next_steps(verify_qr(api, green["token"]).text)
    assert "Revoked" in steps and "newest pass" in steps
    created = api.post("/api/v1/applications", json=example("arrival", clock.now().date())).json()
    with seeded.session() as s:
        app = s.get(Application, created["id"])
        yellow = s.exec(select(Pass.token).where(Pass.application_id == app.id)).one()
        issue_pass(session=s, application=app, colour="green", by="test", at=clock.now(), settings=seeded.settings)
        s.commit()
    steps = next_steps(verify_qr(api, yellow).text)
    assert "Superseded" in steps and "newest pass" in steps and "最新" in zh_steps(api, yellow) and "Revoked" not in steps


def test_r4_after_a_red_code_the_page_says_contact_the_community(api, seeded, clock):
    created = api.post("/api/v1/applications", json=example("standard", clock.now().date())).json()
    with seeded.session() as s:
        red = issue_pass(session=s, application=s.get(Application, created["id"]), colour="red", by="test", at=clock.now(), settings=seeded.settings)
        s.commit()
        token = red.token
    steps = next_steps(verify_qr(api, token).text)
    assert "Red code" in steps and "Contact their community" in steps and "社区" in zh_steps(api, token)


def test_r4_an_unreadable_code_says_scan_again(api):
    steps = next_steps(verify_qr(api, "SDHP1:not-a-token").text)
    assert "scan again" in steps and "重新扫描" in zh_steps(api, "SDHP1:not-a-token")
