"""Health flags reaching the issuer: a declared fever on the task page with the comparison's hits and
a supplement answered with a file (R6, R12, R14), and an arrival's abnormal daily report (R8)."""
from __future__ import annotations

import base64
import re
from datetime import datetime

from cases.clock import SHANGHAI
from cases.simulate import application_body
from tests.browser.support import axe_check, case_url, declare, person, reload_until, shot, sign_in

# A 1×1 PNG: what a phone would attach as a photo of a document.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
ANSWER = "Train ticket G1234, Jinan to Qingdao, seat 05A."
NOTE = "Phoned at once: 36.8 °C on a second reading, no other symptom."


def test_r12_issuer_sees_a_declared_fever_and_its_hits_then_a_supplement_answered_with_a_file(desktop, new_context, live, tmp_path):
    who = person("standard")
    body = application_body(who["seq"], today=datetime.now(SHANGHAI).date(), kind="standard")
    body["health"] = {"symptoms": ["fever", "cough"], "temperature": 38.5}
    r = live.http.post("/api/v1/applications", json=body)
    assert r.status_code == 201, r.text
    case = r.json()
    live.wait_case(case["id"], case["access_token"], lambda v: v["status"] == "awaiting_audit", what="the case reaches the audit queue")

    page = desktop
    sign_in(page, "qingdao-issuer")
    page.goto("/issuer")
    page.get_by_role("link", name=case["reference"], exact=True).click()
    page.wait_for_url(re.compile(r"/issuer/tasks/"))
    task_url = page.url.split("?")[0]
    health = page.locator('section[aria-labelledby="health-title"]')
    assert "Abnormal" in health.locator(".alert").inner_text() and "38.5 °C" in health.inner_text()
    comparison = page.locator('section[aria-labelledby="cmp-title"]')
    assert "red list" in comparison.inner_text()  # never issued automatically (R12)
    hits = comparison.locator("tbody tr")
    assert hits.count() >= 1 and re.search(r"declared (fever|symptoms)", comparison.locator("tbody").inner_text()), comparison.inner_text()[:500]
    axe_check(page)
    shot(page, "issuer", "fever-hits", full_page=True)

    page.get_by_role("button", name="Take this case").click()
    page.wait_for_url(re.compile(r"done=claimed"))
    page.get_by_label("Missing items, one per line").fill("Your train ticket number")
    page.get_by_role("button", name="Send request").click()
    page.wait_for_url(re.compile(r"done=supplement"))
    axe_check(page)

    applicant = new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True).new_page()
    applicant.goto(case_url(case))
    reload_until(applicant, "#supplement", what="the supplement request reaches the case page")
    form = applicant.locator("#supplement")
    axe_check(applicant)
    form.get_by_label(re.compile("Your train ticket number")).fill(ANSWER)
    photo = tmp_path / "ticket.png"
    photo.write_bytes(PNG)
    form.get_by_label(re.compile("Files for this item")).set_input_files(str(photo))
    shot(applicant, "applicant", "supplement", full_page=True)
    form.get_by_role("button", name="Send to my community").tap()
    applicant.wait_for_url(re.compile(r"done=supplied"))
    assert applicant.get_by_role("status").filter(has_text="the items went to your community").is_visible()
    axe_check(applicant)

    page.goto(task_url)
    round_ = page.locator("article.supplement-round").last
    assert ANSWER in round_.inner_text()
    link = round_.get_by_role("link", name="ticket.png")
    assert link.is_visible()
    got = page.request.get(link.get_attribute("href"))
    assert got.status == 200 and got.body() == PNG  # the issuer downloads the very file
    assert live.http.get(link.get_attribute("href")).status_code in (303, 401, 403)  # nobody signed out does
    axe_check(page)
    shot(page, "issuer", "supplement-answered", full_page=True)


def test_r8_an_abnormal_daily_report_reaches_the_issuer_who_records_it_cleared(phone, new_context, live):
    case = declare(live, "arrival")  # Heping community, Jinan: its yellow pass and observation at once (R7)
    live.wait_case(case["id"], case["access_token"], lambda v: v.get("pass") is not None, what="the yellow pass is issued")
    page = phone
    page.goto(case_url(case))
    page.get_by_role("link", name="Report today").tap()
    page.get_by_label(re.compile("Body temperature")).fill("38.4")
    page.get_by_label("Fever", exact=False).first.check()
    page.get_by_label(re.compile("Yes, I am at my declared address")).check()
    axe_check(page)
    page.get_by_role("button", name="Submit my report").tap()
    page.wait_for_url(re.compile(r"done=reported_abnormal"))
    assert page.get_by_role("status").filter(has_text="your community has been told").is_visible()
    axe_check(page)

    staff = new_context().new_page()
    sign_in(staff, "heping-issuer")
    nav = staff.get_by_role("link", name=re.compile("Health reports"))
    assert re.search(r"\d+\s*open", nav.inner_text()), nav.inner_text()  # the count in the navigation
    nav.click()
    staff.wait_for_url(re.compile(r"/issuer/reports"))
    item = staff.locator("li.health-report").filter(has=staff.get_by_role("link", name=case["reference"], exact=True))
    assert "38.4" in item.inner_text()
    axe_check(staff)
    shot(staff, "issuer", "health-reports", full_page=True)
    item.get_by_label(re.compile("Cleared")).check()
    item.get_by_label(re.compile("Note: what you found")).fill(NOTE)
    item.get_by_role("button", name="Record outcome").click()
    staff.wait_for_url(re.compile(r"done=cleared"))
    assert staff.get_by_role("status").filter(has_text="cleared").is_visible()
    assert staff.get_by_role("link", name=case["reference"], exact=True).count() == 0
    axe_check(staff)

    page.goto(case_url(case))
    assert "Your community recorded the outcome of an abnormal report" in page.locator("main").inner_text()
    assert "On hold" not in page.locator('section[aria-labelledby="obs-title"]').inner_text()
    axe_check(page)
    shot(page, "applicant", "report-cleared")
