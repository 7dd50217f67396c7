"""Units, supervisors and administrators, each signed in with a demo account (R13, R17)."""
from __future__ import annotations

import re
from datetime import datetime

from cases.clock import SHANGHAI
from cases.services.units import template_csv
from cases.simulate import application_body
from tests.browser.support import axe_check, person, shot, sign_in


def test_r17_unit_uploads_a_csv_with_one_bad_row_and_sees_the_result_of_each_row(desktop, tmp_path):
    rows = []
    for _ in range(2):
        who = person("standard")
        body = application_body(who["seq"], today=datetime.now(SHANGHAI).date(), kind="standard")
        rows.append(template_csv(body).splitlines()[1])
    lines = template_csv().splitlines()
    bad = lines[1].replace("370102198001010016", "12345")  # not an ID number
    upload = tmp_path / "employees.csv"
    upload.write_text("\r\n".join([lines[0], rows[0], bad, rows[1]]) + "\r\n", encoding="utf-8")

    page = desktop
    sign_in(page, "unit-hr", next_path="/unit")
    page.goto("/unit")
    axe_check(page)
    page.get_by_label("CSV file", exact=True).set_input_files(str(upload))
    page.get_by_role("button", name=re.compile("Upload and apply")).click()
    page.wait_for_load_state()

    result = page.locator('section[aria-labelledby="result-h"]')
    assert re.search(r"Accepted:\s*2\s*·\s*Refused:\s*1", result.get_by_role("status").inner_text()), result.inner_text()[:400]
    body = result.locator("tbody tr")
    assert body.count() == 3
    for accepted in (body.nth(0), body.nth(2)):
        assert re.search(r"HP\d{8}-", accepted.inner_text()), accepted.inner_text()  # the new case's reference
    refused = body.nth(1).inner_text()
    assert "Refused" in refused and "ID number" in refused, refused  # the bad row names its column and why
    axe_check(page)
    shot(page, "unit", "upload-result", full_page=True)


def test_r13_supervisor_opens_a_breached_case_from_the_dashboard(desktop):
    page = desktop
    sign_in(page, "jinan-supervisor", next_path="/supervisor")
    page.goto("/supervisor")
    first = page.locator('section[aria-labelledby="h-breaches"] tbody tr th a').first
    reference = first.inner_text().strip()
    first.click()
    page.wait_for_url(re.compile(r"/staff/cases/"))
    assert reference in page.get_by_role("heading", level=1).inner_text()
    assert page.get_by_role("heading", name=re.compile("Responsibility record")).is_visible()
    axe_check(page)
    shot(page, "supervisor", "breached-case")


def test_admin_pages_pass_axe(desktop):
    page = desktop
    sign_in(page, "admin")
    page.get_by_role("link", name="Administration").click()
    page.wait_for_url(re.compile(r"/admin/users"))
    assert page.get_by_role("heading", level=1).inner_text().startswith("Users")
    axe_check(page)
    shot(page, "admin", "users")
    for path, heading in (("/admin/calendar", "Working calendar"), ("/admin/keys", "Pass signing keys")):
        response = page.goto(path)
        assert response.status == 200, f"{path}: {response.status}"
        assert page.get_by_role("heading", level=1).inner_text().startswith(heading)
        axe_check(page)
        shot(page, "admin", path.rsplit("/", 1)[1])
