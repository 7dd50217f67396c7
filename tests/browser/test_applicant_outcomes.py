"""What applicants see when things go their own way: a lost link recovered, a rejection and a
revocation read honestly, and the page in their language."""
from __future__ import annotations

import json
import re
import time
from datetime import datetime

from playwright.sync_api import TimeoutError as PlaywrightTimeout

from cases.clock import SHANGHAI
from cases.simulate import application_body
from tests.browser.support import axe_check, case_url, declare, in_audit, person, shot

REJECTION = "The county registry shows the declared address does not exist. Please declare again."
REVOCATION = "Confirmed case reported by the county CDC this morning"


def _declare_as(live, kind: str = "standard") -> tuple[dict, dict]:
    """Declare through the API as a new person; the case and the body that was sent (name, ID)."""
    who = person(kind)
    body = application_body(who["seq"], today=datetime.now(SHANGHAI).date(), kind=kind)
    r = live.http.post("/api/v1/applications", json=body)
    assert r.status_code == 201, r.text
    return r.json(), body


def _code_sent_to(live, phone: str, reference: str, *, seconds: float = 20) -> str:
    """The newest code in the development SMS outbox (cases/recovery/sms.py) for this case."""
    outbox = live.data_dir / "sms" / "outbox.jsonl"
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if outbox.exists():
            for line in reversed(outbox.read_text(encoding="utf-8").splitlines()):
                sms = json.loads(line)
                if sms["phone"] == phone and reference in sms["text"]:
                    return re.search(r"(\d{6})", sms["text"].split(reference, 1)[1]).group(1)
        time.sleep(0.5)
    raise AssertionError(f"no code for {reference} in {outbox}")


def test_a_lost_link_is_recovered_with_a_code_and_the_old_link_stops_working(phone, live):
    case, body = _declare_as(live)
    old_link = case_url(case)
    page = phone
    page.goto("/cases/recover")
    axe_check(page)
    page.get_by_label(re.compile("Case number")).fill(case["reference"])
    page.get_by_label(re.compile("Document number")).fill(body["id_number"])
    page.get_by_label(re.compile("^Name")).fill(body["name"])
    shot(page, "applicant", "recover")
    page.get_by_role("button", name=re.compile("Send me a code")).tap()
    try:
        page.wait_for_url(re.compile(r"/cases/recover/code"))
    except PlaywrightTimeout:  # once in CI (not reproduced): the form came back; say what it said
        raise AssertionError(f"no code page; at {page.url}: {page.locator('main').inner_text()[:800]}") from None
    axe_check(page)

    page.get_by_label(re.compile("6-digit code")).fill(_code_sent_to(live, body["phone"], case["reference"]))
    page.get_by_role("button", name=re.compile("Open my case")).tap()
    page.wait_for_url(re.compile(r"/cases/[^/?]+\?access_token="))
    assert case["reference"] in page.locator("main").inner_text()
    assert case["access_token"] not in page.url  # a fresh link
    axe_check(page)

    response = page.goto(old_link)
    assert response.status in (401, 403, 404), f"the old link still opens the case: {response.status}"
    assert case["reference"] not in page.locator("main").inner_text()


def _reject(live, case: dict) -> None:
    headers = live.token("qingdao-issuer")
    task = next(t for t in live.http.get("/api/v1/audit-tasks", headers=headers).json() if t["reference"] == case["reference"])
    r = live.http.post(f"/api/v1/audit-tasks/{task['task_id']}/decision", headers=headers,
                       json={"action": "reject", "reason_code": "false_declaration", "explanation": REJECTION})
    assert r.status_code == 200, r.text
    live.wait_case(case["id"], case["access_token"], lambda v: v["status"] == "rejected", what="the case is rejected")


def test_r21_a_rejected_case_says_so_with_its_reason_and_what_to_do(phone, live):
    case = in_audit(live)
    _reject(live, case)
    page = phone
    page.goto(case_url(case))
    assert "Rejected" in page.locator(".status-line .badge").inner_text()
    outcome = page.locator("section.outcome")
    assert outcome.get_by_role("heading", name="Your application was rejected").is_visible()
    assert REJECTION in outcome.inner_text()  # the issuer's words
    assert outcome.get_by_role("heading", name="What you can do now").is_visible()
    assert outcome.get_by_role("link", name="Apply again").is_visible()
    assert outcome.get_by_role("link", name=re.compile("Complain about this case")).is_visible()
    assert page.locator(".pass .band-green").count() == 0  # no green code, and no ticked decision step
    assert page.locator(".steps .step.failed").count() >= 1  # shown as ✗ in the progress
    axe_check(page)
    shot(page, "applicant", "rejected")


def test_r4_a_revoked_pass_says_revoked_with_its_reason(phone, live):
    case = declare(live, "arrival")  # an arrival in Jinan's Lixia county: its yellow pass at once (R7)
    live.wait_case(case["id"], case["access_token"], lambda v: v.get("pass") is not None, what="the yellow pass is issued")
    r = live.http.post(f"/api/v1/staff/cases/{case['id']}/revoke-pass", json={"reason": REVOCATION}, headers=live.token("lixia-supervisor"))
    assert r.status_code == 200, r.text
    page = phone
    page.goto(case_url(case))
    assert "Pass revoked" in page.locator(".status-line .badge").inner_text()
    outcome = page.locator("section.outcome")
    assert outcome.get_by_role("heading", name="Your pass was revoked").is_visible()
    assert REVOCATION in outcome.inner_text()
    assert "no longer passes any checkpoint" in outcome.inner_text()
    assert page.locator(".pass img.qr").count() == 0  # nothing left to show at a checkpoint
    axe_check(page)
    shot(page, "applicant", "revoked")


def test_the_language_switch_is_remembered_and_switches_back(new_context):
    page = new_context(locale="zh-CN").new_page()
    page.goto("/rules")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    main_nav = page.locator("nav.lang-switch + nav")
    assert "规则" in main_nav.inner_text() and "Rules" not in main_nav.inner_text()  # Chinese navigation
    axe_check(page)
    shot(page, "applicant", "zh")

    page.locator('nav.lang-switch a[hreflang="en"]').click()
    page.wait_for_url(re.compile(r"/rules$"))
    assert page.locator("html").get_attribute("lang") == "en"
    assert main_nav.get_by_role("link", name="Apply", exact=True).is_visible()
    axe_check(page)
    page.goto("/directory")  # the cookie, not the browser's Chinese, decides from now on
    assert page.locator("html").get_attribute("lang") == "en"
    assert main_nav.get_by_role("link", name="Rules", exact=True).is_visible()

    page.locator('nav.lang-switch a[hreflang="zh-CN"]').click()
    page.wait_for_url(re.compile(r"/directory$"))
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert "规则" in main_nav.inner_text()
    axe_check(page)
