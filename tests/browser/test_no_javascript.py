"""The core forms with JavaScript switched off: plain POST and redirect-after-POST (house rule)."""
from __future__ import annotations

import re

from tests.browser.support import axe_check, case_url, declare, fill_declaration, in_audit, approve, shot, sign_in


def test_declaration_works_without_javascript(no_js):
    page = no_js
    fill_declaration(page, "standard")
    axe_check(page)
    page.get_by_role("button", name=re.compile("Submit declaration")).click()
    page.wait_for_url(re.compile(r"/cases/.+new=1"))
    assert page.get_by_role("status").filter(has_text="Your declaration was received").is_visible()
    axe_check(page)


def test_r8_daily_report_works_without_javascript(no_js, live):
    case = declare(live, "arrival")
    live.wait_case(case["id"], case["access_token"], lambda v: v.get("pass") is not None, what="the yellow code (R7)")
    page = no_js
    page.goto(case_url(case))
    page.get_by_role("link", name=re.compile("Report today")).click()
    page.get_by_label(re.compile("Body temperature")).fill("36.4")
    page.get_by_label(re.compile("Yes, I am at my declared address")).check()
    axe_check(page)
    page.get_by_role("button", name=re.compile("Submit my report")).click()
    page.wait_for_url(lambda url: "/report" not in url)
    assert page.get_by_text("Your daily health report was received").is_visible()
    axe_check(page)


def test_r14_decision_works_without_javascript(no_js, live):
    case = in_audit(live)
    page = no_js
    sign_in(page, "qingdao-issuer")
    page.goto("/issuer")
    page.get_by_role("link", name=case["reference"], exact=True).click()
    page.get_by_role("button", name=re.compile("Take this case")).click()
    page.wait_for_url(re.compile(r"done=claimed"))
    axe_check(page)
    page.get_by_role("button", name=re.compile("Approve and issue")).click()
    page.wait_for_url(re.compile(r"/issuer\?done=approve"))
    axe_check(page)
    view = live.wait_case(case["id"], case["access_token"], lambda v: v.get("pass") is not None, what="the pass after the approval")
    assert view["decision"] == "approve" and view["pass"]["colour"] == "green"


def test_r4_checkpoint_verification_works_without_javascript(no_js, live):
    card = approve(live, in_audit(live))["pass"]["card_number"]
    page = no_js
    sign_in(page, "checkpoint", next_path="/checkpoint")  # a typed card number needs the checkpoint operator
    page.goto("/checkpoint")
    page.get_by_label(re.compile("Card number")).fill(card)
    page.get_by_label(re.compile("Measured temperature")).fill("36.5")
    page.get_by_role("button", name=re.compile("Verify")).click()
    assert page.locator(".verdict-pass .verdict-word").inner_text().startswith("PASS")
    axe_check(page)
    shot(page, "checkpoint", "no-javascript")
