"""Applicants on a phone: declare, follow the case, report daily during observation (R6–R8, R14)."""
from __future__ import annotations

import re

from tests.browser.support import axe_check, case_link, fill_declaration, reload_until, shot


def test_r14_applicant_declares_on_a_phone_and_the_case_reaches_the_audit(phone):
    page = phone
    fill_declaration(page, "standard")
    axe_check(page)
    shot(page, "applicant", "declare")
    page.get_by_role("button", name=re.compile("Submit declaration")).tap()

    page.wait_for_url(re.compile(r"/cases/.+new=1"))
    assert page.get_by_role("status").filter(has_text="Your declaration was received").is_visible()
    case_link(page)  # the applicant's only way back: the link with its access token
    axe_check(page)
    reload_until(page, ".badge.status-awaiting_audit", what="the flow compares the declaration and sends it to the community")
    current = page.locator('.steps [aria-current="step"]')
    assert "Community/unit audit" in current.inner_text()
    assert page.get_by_text("No pass yet").is_visible()
    axe_check(page)
    shot(page, "applicant", "in-audit")


def test_r7_r8_arrival_gets_a_yellow_code_and_reports_today_on_the_case_page(phone):
    page = phone
    fill_declaration(page, "arrival")
    page.get_by_role("button", name=re.compile("Submit declaration")).tap()
    page.wait_for_url(re.compile(r"/cases/.+new=1"))
    link = case_link(page)

    reload_until(page, ".pass .band-yellow", what="the yellow code is issued at once on an arrival declaration (R7)")
    assert "Yellow code" in page.locator(".pass .colour-word").inner_text()
    reload_until(page, ".status-line .badge:not(.status-submitted)", what="the flow takes the declaration on (R14)")
    axe_check(page)
    shot(page, "arrival", "yellow-code")

    page.get_by_role("link", name=re.compile("Report today")).tap()
    page.wait_for_url(re.compile(r"/report\?"))
    page.get_by_label(re.compile("Body temperature")).fill("36.5")
    page.get_by_label(re.compile("Yes, I am at my declared address")).check()
    axe_check(page)
    shot(page, "arrival", "daily-report")
    page.get_by_role("button", name=re.compile("Submit my report")).tap()

    page.wait_for_url(lambda url: "/report" not in url)
    assert page.get_by_role("status").filter(has_text="Your daily health report was received").is_visible()
    assert page.get_by_text("Today's report received").is_visible()
    assert page.locator(".day.today .day-temp").inner_text().startswith("36.5")
    assert link.split("?")[0] in page.url
    axe_check(page)
    shot(page, "arrival", "reported")
