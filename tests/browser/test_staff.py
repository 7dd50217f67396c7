"""Issuers, checkpoint operators and supervisors, each signed in with a demo account (R4, R11–R14)."""
from __future__ import annotations

import re

import pytest

from tests.browser.support import approve, axe_check, case_url, in_audit, reload_until, shot, sign_in, tab_to


def test_r14_issuer_claims_and_approves_with_the_keyboard_then_the_applicant_sees_the_green_pass(desktop, new_context, live):
    case = in_audit(live)
    page = desktop
    sign_in(page, "qingdao-issuer")
    page.goto("/issuer")
    axe_check(page)
    shot(page, "issuer", "queue", full_page=True)

    # Keyboard only from here: Tab to the case, Enter; Tab to "Take this case", Enter; Tab to "Approve and issue", Enter.
    tab_to(page, case["reference"])
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/issuer/tasks/"))
    axe_check(page)
    tab_to(page, "Take this case")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"done=claimed"))
    assert page.get_by_role("status").filter(has_text="You took this case").is_visible()
    axe_check(page)
    shot(page, "issuer", "task")
    tab_to(page, "Approve and issue")
    page.keyboard.press("Enter")

    page.wait_for_url(re.compile(r"/issuer\?done=approve"))
    assert page.get_by_role("status").filter(has_text="Approved").is_visible()
    assert page.get_by_role("link", name=case["reference"]).count() == 0  # gone from the queue
    axe_check(page)

    applicant = new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True).new_page()
    applicant.goto(case_url(case))
    reload_until(applicant, ".pass .band-green", what="the flow issues the green pass after the approval")
    assert "Green code" in applicant.locator(".pass .colour-word").inner_text()
    assert applicant.locator(".pass img.qr").is_visible()
    axe_check(applicant)
    shot(applicant, "applicant", "green-pass")


@pytest.fixture
def green_pass(live) -> dict:
    """A case approved by its issuer (through the API): the view with its green pass."""
    view = approve(live, in_audit(live))
    assert view["pass"]["colour"] == "green"
    return view


def test_r4_checkpoint_passes_a_green_pass_with_normal_temperature_and_denies_a_fever(desktop, green_pass):
    page = desktop
    card = green_pass["pass"]["card_number"]
    sign_in(page, "checkpoint", next_path="/checkpoint")  # a typed card number needs the checkpoint operator
    page.goto("/checkpoint")
    axe_check(page)
    shot(page, "checkpoint", "form")

    page.get_by_label(re.compile("Card number")).fill(card)
    page.get_by_label(re.compile("Measured temperature")).fill("36.6")
    page.get_by_role("button", name=re.compile("Verify")).click()
    assert page.locator(".verdict-pass .verdict-word").inner_text().startswith("PASS")
    axe_check(page)
    shot(page, "checkpoint", "pass")

    page.get_by_label(re.compile("Card number")).fill(card)
    page.get_by_label(re.compile("Measured temperature")).fill("38.2")
    page.get_by_role("button", name=re.compile("Verify")).click()
    verdict = page.locator(".verdict-deny")
    assert verdict.locator(".verdict-word").inner_text().startswith("DENY")
    assert "fever" in verdict.locator(".reasons").inner_text()
    axe_check(page)
    shot(page, "checkpoint", "deny-fever")


def test_r13_supervisor_sees_the_breaches_of_the_demo_history_on_the_dashboard(desktop):
    page = desktop
    sign_in(page, "jinan-supervisor", next_path="/supervisor")
    page.goto("/supervisor")
    assert page.get_by_role("heading", level=1).inner_text().startswith("Deadlines and breaches")
    breaches = page.locator("#h-breaches .count")
    assert int(breaches.inner_text()) > 0  # the history has breaches at any hour (README: Jinan 7)
    assert page.locator('section[aria-labelledby="h-breaches"] tbody tr').count() > 0
    axe_check(page)
    shot(page, "supervisor", "dashboard")
