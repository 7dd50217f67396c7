"""The supervisor dashboard page (issue 13): SLA-state cards, per-child-region table with
drill-down links, open work with filter, paging and CSV, staff links to cases (R11, R13, R18)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

from cases.models import CaseStatus
from tests.sla_store.sla_support import local
from tests.supervision.test_open_work import _case
from tests.ui.test_pages import sign_in, text_of

ROOT = Path(__file__).resolve().parents[2]


def _card(words: str, label: str) -> int:
    return int(re.search(r"(\d+) " + label, words).group(1))


def test_r11_dashboard_at_night_counts_waiting_cases_as_at_risk(api, seeded, clock):
    """The bug of issue 13: 'At risk 0' while 15 cases wait. At 01:45 fifteen cases are due at
    09:00, half a working hour away (>= 80 % of the 6 working hours used)."""
    clock.set(local("2026-03-04 01:45"))
    with seeded.session() as s:
        ids = [_case(s, due=local("2026-03-04 09:00")) for _ in range(15)]
        _case(s, due=local("2026-03-04 15:00"))  # on time: 5 working hours left
        _case(s, due=local("2026-03-04 12:00"), status=CaseStatus.awaiting_applicant)
        s.commit()
    sign_in(api, "lixia-supervisor")
    page = api.get("/supervisor")
    assert page.status_code == 200, page.text
    words = text_of(page.text)
    assert _card(words, "At risk") == 15 and _card(words, "On time") == 1 and _card(words, "Paused") == 1 and _card(words, "Breached") == 0
    # Per community of the county, linking one level down; case links open the staff view.
    assert 'href="/supervisor?region=370102001001' in page.text
    # Filter and paging: 15 at risk, 25 per page -> one page; all links to the staff view.
    at_risk = api.get("/supervisor", params={"state": "at_risk"}).text
    assert sum(f'href="/staff/cases/{i}"' in at_risk for i in ids) == 15
    assert 'href="/api/v1/supervision/open-work.csv?state=at_risk"' in at_risk
    # Drill-down into the community, and refusal outside the area.
    community = api.get("/supervisor", params={"region": "370102001001"})
    assert community.status_code == 200 and "和平社区" in text_of(community.text)
    assert api.get("/supervisor", params={"region": "370202"}).status_code == 403
    for href in ("/supervisor/notifications", "/supervisor/trends"):
        assert f'href="{href}"' in page.text


def test_ui_and_api_do_not_import_each_other_for_supervision():
    for path in (ROOT / "ui/pages/supervisor.py", ROOT / "ui/pages/case.py"):
        tree = ast.parse(path.read_text())
        modules = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)] + [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        assert not [m for m in modules if m and m.split(".")[0] == "api"], path
