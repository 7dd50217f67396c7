"""What the browser journeys share: accessibility checks (axe-core), screenshots, signing in,
keyboard navigation, and setting a scene through the API (a case already in audit, a green pass)."""
from __future__ import annotations

import os
import re
import time
from datetime import datetime
from pathlib import Path

from cases.clock import SHANGHAI
from cases.simulate import application_body, mobile, resident_id

ROOT = Path(__file__).resolve().parents[2]
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
SCREENSHOTS = ROOT / "docs" / "screenshots"
DEMO_PASSWORD = "demo-pass-2026"
FAILING_IMPACTS = ("serious", "critical")

# People the journeys declare: person numbers far from the demo history's (cases.simulate, cases.demo_history).
_next_person = iter(range(8_100_000, 9_000_000))  # each session has a fresh store


def person(kind: str = "standard") -> dict[str, str]:
    """A new person (valid resident ID, mobile number) in the community of the `kind` example."""
    seq = next(_next_person)
    county = "370202" if kind == "standard" else "370102"
    return {"id_number": resident_id(seq, county=county), "phone": mobile(seq), "seq": seq}


# ------------------------------------------------------------------ axe-core ---

def _run_axe(page) -> list[dict]:
    page.evaluate(AXE.read_text())  # evaluate is not subject to the page's CSP (script-src 'self')
    return page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ['violations']});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' — ' + (n.failureSummary || '').split('\\n').slice(1, 2).join(''))}));
        }"""
    )


def axe_violations(page) -> list[dict]:
    """Every axe-core violation of the page as it is shown now. A page without JavaScript is
    copied, as rendered, into a scratch page of a JavaScript context (same stylesheet) for axe."""
    if not getattr(page, "hp_no_js", False):
        return _run_axe(page)
    html = page.content()
    html = re.sub(r"<head([^>]*)>", lambda m: f'<head{m.group(1)}><base href="{page.url}">', html, count=1)
    scratch = page.context.browser.new_context()
    try:
        copy = scratch.new_page()
        copy.set_content(html, wait_until="load")
        return _run_axe(copy)
    finally:
        scratch.close()


def axe_check(page, *, allow: tuple[str, ...] = ()) -> None:
    """Fail on any serious or critical axe-core violation (rule ids in `allow` are tolerated:
    name them only with an xfail or an issue that says why)."""
    bad = [v for v in axe_violations(page) if v["impact"] in FAILING_IMPACTS and v["id"] not in allow]
    assert not bad, f"axe-core on {page.url}:\n" + "\n".join(f"- {v['id']} ({v['impact']}): {v['help']}\n    " + "\n    ".join(v["nodes"]) for v in bad)


# --------------------------------------------------------------- screenshots ---

def shot(page, actor: str, step: str, *, full_page: bool = False) -> Path | None:
    """docs/screenshots/<actor>-<step>.png, when HEALTHPASS_SCREENSHOTS=1 (the README shows them;
    `make screenshots` refreshes them). Otherwise nothing is written: `make test` leaves the tree clean."""
    if os.environ.get("HEALTHPASS_SCREENSHOTS") != "1":
        return None
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{actor}-{step}.png"
    if not full_page:  # the top of the page, not wherever typing left it (no JavaScript needed for a wheel)
        page.mouse.wheel(0, -100_000)
        page.wait_for_timeout(200)
    page.screenshot(path=str(path), full_page=full_page, animations="disabled", scale="css")
    return path


# ------------------------------------------------------------------- people ---

def sign_in(page, username: str, *, next_path: str | None = None) -> None:
    """The staff sign-in form, typed and sent with Enter as a person would."""
    page.goto("/login" + (f"?next={next_path}" if next_path else ""))
    page.get_by_label(re.compile("Username")).fill(username)
    page.get_by_label(re.compile("Password")).fill(DEMO_PASSWORD)
    axe_check(page)
    page.get_by_label(re.compile("Password")).press("Enter")
    page.wait_for_load_state()
    assert "/login" not in page.url, f"sign-in of {username} failed: {page.locator('main').inner_text()[:300]}"


def tab_to(page, name: str | re.Pattern, *, limit: int = 120) -> int:
    """Press Tab until the focused element's accessible text matches `name`; the number of presses.
    Keyboard users reach every control this way (no mouse, no focus() from the test)."""
    pattern = re.compile(re.escape(name)) if isinstance(name, str) else name
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        text = page.evaluate("() => { const e = document.activeElement; return e ? (e.innerText || e.value || e.getAttribute('aria-label') || '') : ''; }")
        if pattern.search(text or ""):
            return presses
    raise AssertionError(f"{pattern.pattern!r} not reached with {limit} Tab presses on {page.url}")


def reload_until(page, locator: str, *, what: str, seconds: float = 90) -> None:
    """Reload the page until `locator` is on it (the flow runs behind it; the page does not poll)."""
    deadline = time.monotonic() + seconds
    while page.locator(locator).count() == 0:
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds:.0f} s: {what} ({locator} on {page.url})\n{page.locator('main').inner_text()[:600]}")
        time.sleep(1)
        page.reload()


def fill_declaration(page, kind: str = "standard") -> dict[str, str]:
    """Open the form filled with the published example of `kind`, as a new person; not sent."""
    who = person(kind)
    page.goto(f"/apply?example={kind}")
    page.get_by_label(re.compile("Document number")).fill(who["id_number"])
    page.get_by_label(re.compile("Mobile phone")).fill(who["phone"])
    return who


def case_link(page) -> str:
    """The applicant's own link to the case page they landed on (its access token included)."""
    assert re.search(r"/cases/[^/?]+\?access_token=", page.url), page.url
    return page.url.split("&new=")[0]


# ----------------------------------------------------- scenes set by the API ---

def today() -> str:
    return datetime.now(SHANGHAI).date().isoformat()


def declare(live, kind: str = "standard") -> dict:
    """Declare through the API as a new person; the case's id, reference and access token."""
    who = person(kind)
    body = application_body(who["seq"], today=datetime.now(SHANGHAI).date(), kind=kind)
    r = live.http.post("/api/v1/applications", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def in_audit(live) -> dict:
    """A standard case of the Qingdao example's community, waiting in its issuers' queue."""
    case = declare(live, "standard")
    live.wait_case(case["id"], case["access_token"], lambda v: v["status"] == "awaiting_audit", what="the case reaches the audit queue")
    return case


def approve(live, case: dict, issuer: str = "qingdao-issuer") -> dict:
    """The issuer approves through the API; the case once its pass is issued."""
    headers = live.token(issuer)
    tasks = live.http.get("/api/v1/audit-tasks", headers=headers).json()
    task = next(t for t in tasks if t["reference"] == case["reference"])
    r = live.http.post(f"/api/v1/audit-tasks/{task['task_id']}/decision", json={"action": "approve"}, headers=headers)
    assert r.status_code == 200, r.text
    return live.wait_case(case["id"], case["access_token"], lambda v: v.get("pass") is not None, what="the pass is issued")


def case_url(case: dict) -> str:
    return f"/cases/{case['id']}?access_token={case['access_token']}"
