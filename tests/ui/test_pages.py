"""The server-rendered pages: applicants, issuers, supervisors, checkpoints (R1-R21 as they show on screen).

Every test drives the pages the way a browser does: HTML forms, redirects, the session cookie."""
from __future__ import annotations

import html
import re
from datetime import timedelta
from pathlib import Path

from sqlmodel import select

from cases.models import Application, AuditTask, Pass
from cases.services import sla_service, workflow
from tests.helpers import example, to_audit

UI = Path(__file__).resolve().parents[2] / "ui"


# ---------------------------------------------------------------- helpers ---

def form_of(ex: dict) -> dict:
    """A declaration as the apply form posts it."""
    data = {k: ex.get(k) or "" for k in ("kind", "channel", "name", "id_type", "id_number", "phone", "nationality", "address", "community_code", "unit_code", "arrival_date", "arrival_port")}
    for i, stay in enumerate(ex["residence_history"]):
        data.update({f"stay_place_{i}": stay["place"], f"stay_from_date_{i}": stay["from_date"], f"stay_to_date_{i}": stay["to_date"]})
    data["had_contact"] = "yes" if ex["close_contact"]["had_contact"] else "no"
    data["contact_details"] = ex["close_contact"]["details"] or ""
    data["symptoms"] = list(ex["health"]["symptoms"])
    data["temperature"] = str(ex["health"]["temperature"])
    if ex.get("pledge_self_isolation"):
        data["pledge"] = "yes"
    data["form_id"] = "test-" + ex["kind"] + ex["id_number"]
    return data


def hidden(page: str, name: str) -> str:
    m = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert m, f"no hidden field {name}"
    return html.unescape(m.group(1))


def apply(api, data: dict):
    return api.post("/apply", data=data, follow_redirects=False)


def sign_in(api, username: str, password: str = "demo-pass-2026"):
    page = api.get("/login").text
    return api.post("/login", data={"username": username, "password": password, "login_token": hidden(page, "login_token"), "next": ""}, follow_redirects=False)


def csrf(api, path: str) -> str:
    return hidden(api.get(path).text, "csrf_token")


def text_of(page: str) -> str:
    """The visible words of a page, tags dropped, for assertions on wording."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def to_awaiting_audit(store, case_id: str, clock) -> str:
    return to_audit(store, clock, case_id)


def standard_case(api, store, clock, **changes) -> tuple[str, str, str]:
    """A standard application through the form, moved to awaiting_audit: (case id, token, task id)."""
    data = form_of(example("standard", clock.now().date())) | changes
    r = apply(api, data)
    assert r.status_code == 303, text_of(r.text)
    case_id = r.headers["location"].split("/cases/")[1].split("?")[0]
    token = re.search(r"access_token=([0-9a-f]+)", r.headers["location"]).group(1)
    return case_id, token, to_awaiting_audit(store, case_id, clock)


# ------------------------------------------------------------------ tests ---

def test_r7_r1_r4_arrival_form_shows_yellow_pass_and_checkpoint_page_lists_reasons(api, seeded, clock):
    """R6/R7: the arrival form creates the case and redirects to its page with the yellow pass;
    R1: the pass carries the card name; R2: valid until is 14 days on, in Shanghai time;
    R4: at the checkpoint page that yellow pass with a fever is denied, every reason in words."""
    page = api.get("/apply?kind=arrival")
    assert page.status_code == 200 and 'name="pledge"' in page.text and page.text.count('name="stay_place_') >= 3
    assert '<label for="temperature">' in page.text and 'type="checkbox" name="symptoms" value="cough"' in page.text

    r = apply(api, form_of(example("arrival", clock.now().date())))
    assert r.status_code == 303
    location = r.headers["location"]
    assert location.startswith("/cases/") and "access_token=" in location

    case = api.get(location)
    assert case.status_code == 200
    with seeded.session() as s:
        p = s.exec(select(Pass)).one()
    assert p.colour.value == "yellow"
    words = text_of(case.text)
    assert f'src="/api/v1/passes/{p.id}/qr.png?access_token=' in case.text
    assert p.card_number in words
    assert "Yellow code" in words and "黄码" not in words and "band-yellow" in case.text
    assert "Shandong Health Pass Card" in words and "山东省健康通行卡" not in words
    zh = text_of(api.get(location, headers={"Accept-Language": "zh-CN"}).text)
    assert "黄码" in zh and "山东省健康通行卡" in zh and "Yellow code" not in zh
    assert "2026-03-17 09:00" in words  # valid until: issued 2026-03-03 09:00 + 14 days, Asia/Shanghai
    assert "14 d 0 h 0 min" in words and 'data-deadline="2026-03-17T01:00:00+00:00"' in case.text
    assert f"/api/v1/passes/{p.id}/card?access_token=" in case.text and "&amp;format=pdf" in case.text
    assert 'aria-current="step"' in case.text and "Declaration" in words
    qr = re.search(r'<img class="qr" src="([^"]+)"', case.text).group(1)
    png = api.get(html.unescape(qr))
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    card = api.get(html.unescape(re.search(r'href="(/api/v1/passes/[^"]+/card\?[^"]+)"', case.text).group(1)))
    assert card.status_code == 200 and p.card_number in card.text

    # Someone without the token sees nothing, not even that the case exists.
    assert api.get(location.split("?")[0] + "?access_token=" + "0" * 40).status_code == 404
    # Submitting the same form twice (a double click) leads to the same case.
    again = apply(api, form_of(example("arrival", clock.now().date())))
    assert again.status_code == 303 and again.headers["location"].split("?")[0] == location.split("?")[0]

    # R4, R3: the checkpoint page, with the paper card number typed in loosely.
    card_number = p.card_number
    assert sign_in(api, "checkpoint").status_code == 303  # a typed card number needs the operator's sign-in
    page = api.get("/checkpoint")
    assert page.status_code == 200 and '<label for="card_number">' in page.text
    token = hidden(page.text, "csrf_token")
    deny = api.post("/checkpoint", data={"card_number": card_number.lower().replace("-", " "), "temperature": "38.0", "csrf_token": token})
    words = text_of(deny.text)
    assert deny.status_code == 200 and "DENY" in words and "verdict-deny" in deny.text
    assert "Yellow code: in isolation observation" in words and "Temperature at or above the fever threshold (37.3 °C)" in words
    assert "PASS 通行" not in words
    forged = text_of(api.post("/checkpoint", data={"qr": "SDHP1:not-a-token", "temperature": "36.5", "csrf_token": token}).text)
    assert "DENY" in forged and "Not a readable pass code" in forged
    unknown = text_of(api.post("/checkpoint", data={"card_number": "SD-0000-0000-0000-0", "temperature": "36.5", "csrf_token": token}).text)
    assert "DENY" in unknown
    both = api.post("/checkpoint", data={"card_number": card_number, "qr": "x", "temperature": "36.5", "csrf_token": token})
    assert both.status_code == 422 and "not both" in both.text
    hot = api.post("/checkpoint", data={"card_number": card_number, "temperature": "hot", "csrf_token": token})
    assert hot.status_code == 422 and 'id="err-temperature"' in hot.text


def test_r6_form_validation_errors_keep_values_and_name_the_field(api, seeded, clock):
    today = clock.now().date()
    data = form_of(example("arrival", today)) | {"phone": "12345", "symptoms": ["cough"], "temperature": "36.8"}
    data.pop("pledge")
    data["stay_place_2"], data["stay_from_date_2"], data["stay_to_date_2"] = "310101", (today - timedelta(days=30)).isoformat(), (today - timedelta(days=20)).isoformat()
    r = apply(api, data)
    assert r.status_code == 422
    page = r.text
    assert 'id="err-phone"' in page and 'aria-describedby="err-phone"' in page
    assert 'id="err-pledge"' in page and "pledge" in text_of(page).lower()
    assert 'id="err-stay_2"' in page and "14-day window" in text_of(page)
    # What the applicant typed is still there.
    assert 'value="李娜"' in page and 'value="12345"' in page and 'value="GBR"' in page and 'value="36.8"' in page
    assert 'value="cough" checked' in page and 'value="310101"' in page
    assert "Mobile phone" in text_of(page)  # the error summary names the field (in the page language: tests/ui/test_i18n.py)
    with seeded.session() as s:
        assert s.exec(select(Application)).first() is None

    # A domain error from the service (an unknown community) is shown on the field too.
    r = apply(api, form_of(example("arrival", today)) | {"community_code": "370102001999"})
    assert r.status_code == 422 and 'id="err-community_code"' in r.text and "does not exist" in r.text


def test_r14_issuer_signs_in_sees_the_queue_and_approves_r4_green_passes(api, seeded, clock):
    case_id, token, task_id = standard_case(api, seeded, clock)
    with seeded.session() as s:
        reference = s.get(Application, case_id).reference

    r = sign_in(api, "qingdao-issuer")
    assert r.status_code == 303 and r.headers["location"] == "/issuer"
    cookie = r.headers["set-cookie"]
    assert "hp_session=" in cookie and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()

    queue = api.get("/issuer")
    words = text_of(queue.text)
    assert queue.status_code == 200 and reference in words
    assert "not signed in for today" in words
    assert "working time left" in words and "sla-green" in queue.text and "Love Shandong app" in words
    assert "Contact attempts 0" in words

    token_value = hidden(queue.text, "csrf_token")
    assert api.post("/issuer/sign-in", data={"csrf_token": token_value}, follow_redirects=False).status_code == 303
    assert "Signed in for today" in text_of(api.get("/issuer").text)

    task_page = api.get(f"/issuer/tasks/{task_id}")
    assert task_page.status_code == 200 and "Take this case" in text_of(task_page.text)
    assert api.post(f"/issuer/tasks/{task_id}/claim", data={"csrf_token": token_value}, follow_redirects=False).status_code == 303
    contact = api.post(f"/issuer/tasks/{task_id}/decision", data={"csrf_token": token_value, "action": "verify_contact", "contact_method": "phone", "explanation": "Called; address confirmed."}, follow_redirects=False)
    assert contact.status_code == 303
    r = api.post(f"/issuer/tasks/{task_id}/decision", data={"csrf_token": token_value, "action": "approve"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/issuer?done=approve"
    assert reference not in text_of(api.get("/issuer").text)
    with seeded.session() as s:
        task = s.get(AuditTask, task_id)
        assert task.decision == "approve" and task.decided_by is not None
        workflow.finish(session=s, application=s.get(Application, case_id), at=clock.now(), settings=seeded.settings)
        s.commit()
        card_number = s.exec(select(Pass.card_number).where(Pass.application_id == case_id)).one()

    case = text_of(api.get(f"/cases/{case_id}", params={"access_token": token}).text)
    assert "Green code" in case and "绿码" not in case and card_number in case and "Completed" in case
    assert "绿码" in text_of(api.get(f"/cases/{case_id}", params={"access_token": token}, headers={"Accept-Language": "zh-CN"}).text)

    # R4 at the checkpoint page: the paper card number of a green pass, normal temperature,
    # typed by the checkpoint operator (the issuer may not look a card number up there).
    refused = api.post("/checkpoint", data={"card_number": card_number, "temperature": "36.5", "csrf_token": token_value})
    assert refused.status_code == 403 and "王*" not in refused.text
    assert sign_in(api, "checkpoint").status_code == 303
    result = text_of(api.post("/checkpoint", data={"card_number": card_number, "temperature": "36.5", "csrf_token": csrf(api, "/checkpoint")}).text)
    assert "PASS" in result and "no isolation required" in result and "王*" in result


def test_csrf_less_staff_posts_are_refused(api, seeded, clock):
    _, _, task_id = standard_case(api, seeded, clock)
    # Not signed in: sent to the sign-in page, nothing done.
    r = api.post(f"/issuer/tasks/{task_id}/decision", data={"action": "approve"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert api.get(f"/issuer/tasks/{task_id}", follow_redirects=False).headers["location"] == f"/login?next=%2Fissuer%2Ftasks%2F{task_id}"

    sign_in(api, "qingdao-issuer")
    assert api.post("/issuer/sign-in", follow_redirects=False).status_code == 403
    assert api.post(f"/issuer/tasks/{task_id}/decision", data={"action": "approve"}).status_code == 403
    assert api.post(f"/issuer/tasks/{task_id}/decision", data={"action": "approve", "csrf_token": "0" * 64}).status_code == 403
    assert api.post(f"/issuer/tasks/{task_id}/claim", data={"csrf_token": ""}).status_code == 403
    assert api.post("/logout", follow_redirects=False).status_code == 403
    with seeded.session() as s:
        assert s.get(AuditTask, task_id).status.value == "open"

    # The token belongs to one session: after signing in again (a new session) the old one fails.
    old = csrf(api, "/issuer")
    clock.advance(timedelta(seconds=1))
    page = api.get("/login", params={"next": "/issuer"}).text
    r = api.post("/login", data={"username": "qingdao-issuer", "password": "demo-pass-2026", "login_token": hidden(page, "login_token"), "next": "//evil.example/x"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/issuer"  # never off-site
    assert api.post("/issuer/sign-in", data={"csrf_token": old}).status_code == 403
    # Signing out needs the token and clears the cookie.
    r = api.post("/logout", data={"csrf_token": csrf(api, "/issuer")}, follow_redirects=False)
    assert r.status_code == 303 and 'hp_session=""' in r.headers["set-cookie"]
    assert api.get("/issuer", follow_redirects=False).status_code == 303

    # The sign-in form carries its own double-submit token; a wrong password is a 401 with the form.
    assert api.post("/login", data={"username": "qingdao-issuer", "password": "demo-pass-2026", "login_token": "forged"}).status_code == 403
    bad = sign_in(api, "qingdao-issuer", "wrong-password")
    assert bad.status_code == 401 and "Wrong username or password" in bad.text and "hp_session" not in bad.headers.get("set-cookie", "")


def test_r16_r19_forbidden_rejection_reasons_refused_with_the_rule(api, seeded, clock):
    _, _, task_id = standard_case(api, seeded, clock)
    sign_in(api, "qingdao-issuer")
    token = csrf(api, f"/issuer/tasks/{task_id}")
    r = api.post(f"/issuer/tasks/{task_id}/decision", data={"csrf_token": token, "action": "reject", "reason_code": "physical_examination", "explanation": "A physical examination report is needed first."})
    words = text_of(r.text)
    # Redirect-after-POST: the error comes back on a GET, so a reload never re-sends the form.
    assert r.history and r.history[0].status_code == 303 and r.request.method == "GET"
    assert "R16" in words and "physical examination" in words.lower()
    assert 'value="physical_examination" selected' in r.text and "A physical examination report is needed first." in words
    r = api.post(f"/issuer/tasks/{task_id}/decision", data={"csrf_token": token, "action": "reject", "reason_code": "identity_not_established", "explanation": "我们不认识这个申请人，无法核实。"})
    assert r.history[0].status_code == 303 and "R19" in text_of(r.text)
    r = api.post(f"/issuer/tasks/{task_id}/decision", data={"csrf_token": token, "action": "request_supplement", "missing_items": ""})
    assert r.history[0].status_code == 303 and "missing" in text_of(r.text)
    with seeded.session() as s:
        assert s.get(AuditTask, task_id).status.value == "open"
    # Another community's issuer cannot open the task, nor the supervisors' page.
    sign_in(api, "heping-issuer")
    assert api.get(f"/issuer/tasks/{task_id}").status_code == 404
    assert api.get("/supervisor").status_code == 403


def test_r13_r18_supervisor_sees_at_risk_and_breached_cases_of_their_area(api, seeded, clock):
    from cases.models import Role
    from cases.seed import _demo_password_hash, create_user

    # A Jinan case (Heping community), submitted Tuesday 09:00: due 16:30 after 6 working hours.
    case_id, _, _ = standard_case(api, seeded, clock, community_code="370102001001")
    with seeded.session() as s:
        reference = s.get(Application, case_id).reference
        create_user(s, username="qingdao-supervisor", password="demo-pass-2026", role=Role.supervisor, at=clock.now(), region="370200", password_hash=_demo_password_hash())
        s.commit()
    clock.advance(timedelta(hours=6))  # 15:00, 1.5 working hours left
    sign_in(api, "province")
    page = text_of(api.get("/supervisor").text)
    assert "At risk" in page and reference in page and "1 h 30 min" in page
    assert "Communities without a signed-in issuer today" in page and "和平社区" in page

    clock.advance(timedelta(hours=2))  # 17:00: past due
    with seeded.session() as s:
        sla_service.sweep(session=s, now=clock.now(), settings=seeded.settings)
        s.commit()
    assert api.get("/supervisor", follow_redirects=False).status_code == 303  # the 60-minute session ran out
    sign_in(api, "lixia-supervisor")
    page = api.get("/supervisor")
    words = text_of(page.text)
    assert "Breached" in words and reference in words and "370102001001" in words
    assert "heping-issuer" in words  # the responsible issuers (R13)
    assert "2026-03-03 16:30" in words  # due, Asia/Shanghai
    # The case link opens the staff view (issue 13), never the applicant's.
    assert f'href="/staff/cases/{case_id}"' in page.text and f'href="/cases/{case_id}"' not in page.text

    # Scoped like can_read: a Qingdao supervisor sees neither the case nor the breach.
    sign_in(api, "qingdao-supervisor")
    assert reference not in text_of(api.get("/supervisor").text)
    assert api.get(f"/cases/{case_id}").status_code == 404


def test_r20_public_pages_home_rules_directory(api, seeded):
    home = api.get("/")
    assert home.status_code == 200
    words = text_of(home.text)
    assert "Shandong Health Pass Card" in words
    assert "山东省健康通行卡" in text_of(api.get("/", headers={"Accept-Language": "zh-CN"}).text)
    for href in ("/apply", "/cases", "/rules", "/directory", "/login", "/checkpoint"):
        assert f'href="{href}' in home.text
    assert "complaint telephone of your county" in words  # the footer names the complaint channel
    assert home.headers["content-security-policy"].startswith("default-src 'self'")

    rules = text_of(api.get("/rules").text)
    assert "2020-03-01" in rules and "close-contact registry" in rules and "37.3 °C" in rules

    directory = api.get("/directory", params={"county": "370102"})
    words = text_of(directory.text)
    assert directory.status_code == 200 and "0531-12345" in words and "Heping Community" in words and "0531-60102001" in words
    assert "和平社区" in text_of(api.get("/directory", params={"county": "370102"}, headers={"Accept-Language": "zh-CN"}).text)
    assert "Healthy Shandong Service Number" in words and "Love Shandong" in words
    assert "Heping Community Service Centre" in words
    everything = text_of(api.get("/directory", headers={"Accept-Language": "zh-CN"}).text)
    assert "青岛市" in everything and "菏泽市" in everything

    assert api.get("/static/style.css").status_code == 200 and api.get("/static/app.js").status_code == 200


def test_pages_load_nothing_from_elsewhere():
    """No CDN, no web fonts, no inline script: every asset is served by the application."""
    for path in [*(UI / "templates").glob("*.html"), *(UI / "static").iterdir()]:
        if path.name == "card.html" or path.is_dir():  # vendor/: third-party files, checked in tests/ui/test_checkpoint_journey.py and tests/api/test_docs_and_error_pages.py
            continue
        text = path.read_text()
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), path
        assert "@import" not in text and "@font-face" not in text and "url(http" not in text, path
        if path.suffix == ".html":
            assert not re.search(r"<script(?![^>]*\bsrc=)", text), path
            assert " style=" not in text, path
