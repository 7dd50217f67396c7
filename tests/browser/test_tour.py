"""Every page a person reaches from the navigation passes axe-core (no serious or critical violation):
the public pages on a phone, the staff pages signed in with the demo account that sees them."""
from __future__ import annotations

import pytest

from tests.browser.support import axe_check, sign_in

PUBLIC = ["/", "/apply", "/cases", "/rules", "/directory", "/complaints/new", "/checkpoint", "/login"]
STAFF = {
    "jinan-supervisor": ["/supervisor", "/supervisor/notifications", "/supervisor/trends", "/complaints", "/city/reporting", "/directory/manage"],
    "province": ["/province/audit", "/province/thresholds", "/province/reporting", "/province/league"],
    "hotline": ["/hotline"],
}


@pytest.mark.parametrize("path", PUBLIC)
def test_public_page_passes_axe_on_a_phone(phone, path):
    response = phone.goto(path)
    assert response.status == 200, f"{path}: {response.status}"
    axe_check(phone)


@pytest.mark.parametrize("username", list(STAFF))
def test_staff_pages_pass_axe(desktop, username):
    sign_in(desktop, username)
    for path in STAFF[username]:
        response = desktop.goto(path)
        assert response.status == 200, f"{path} as {username}: {response.status}"
        axe_check(desktop)

