"""Administration pages and API: accounts (create, disable/enable, reset a password), the
working calendar (coverage, import a year, one day's change with deadlines recomputed, R11)
and the pass signing keys (list, rotate). Admins only; every change in the administration log."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from cases.admin.models import AdminEvent
from cases.models import Application, CalendarYear, CaseEvent, User
from tests.conftest import login
from tests.sla_store.sla_support import open_case, show
from tests.ui.test_pages import csrf, sign_in, text_of

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "calendar-2027.example.txt"


def _user_id(store, username: str) -> str:
    with store.session() as s:
        return s.exec(select(User).where(User.username == username)).one().id


def _actions(store) -> list[tuple[str, str]]:
    with store.session() as s:
        return [(e.action, e.target) for e in s.exec(select(AdminEvent).order_by(AdminEvent.id))]


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_admin_pages_are_for_admins_only(api, seeded, clock):
    for path in ("/admin/users", "/admin/calendar", "/admin/keys"):
        assert api.get(path, follow_redirects=False).headers["location"].startswith("/login")
    sign_in(api, "province")
    for path in ("/admin/users", "/admin/calendar", "/admin/keys"):
        assert api.get(path).status_code == 403
    headers = login(api, "province")
    assert api.get("/api/v1/admin/keys", headers=headers).status_code == 403
    assert api.post("/api/v1/admin/keys/rotate", headers=headers).status_code == 403
    assert api.get("/api/v1/admin/calendar").status_code == 403  # the session cookie reads the API
    api.cookies.clear()
    assert api.get("/api/v1/admin/calendar").status_code == 401


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_admin_creates_disables_enables_and_resets_accounts(api, seeded, clock):
    issuer_token = login(api, "heping-issuer")
    assert api.get("/api/v1/audit-tasks", headers=issuer_token).status_code == 200
    sign_in(api, "admin")
    page = api.get("/admin/users")
    assert page.status_code == 200 and "heping-issuer" in page.text
    hotline_only = text_of(api.get("/admin/users?role=hotline").text)
    assert "hotline" in hotline_only and "heping-issuer" not in hotline_only
    assert api.get("/admin/users?role=<script>").status_code == 200
    token = csrf(api, "/admin/users")

    bad = api.post("/admin/users", data={"csrf_token": token, "username": "X", "role": "issuer", "region": "370202001001", "password": "a-long-passphrase"})
    assert bad.status_code == 422 and "username: 3–64 characters" in text_of(bad.text) and 'aria-invalid="true" aria-describedby="err-username"' in bad.text
    short = api.post("/admin/users", data={"csrf_token": token, "username": "new-issuer", "role": "issuer", "region": "370202001001", "password": "short"})
    assert short.status_code == 422 and "password: at least 8 characters" in text_of(short.text) and 'value="new-issuer"' in short.text
    nowhere = api.post("/admin/users", data={"csrf_token": token, "username": "new-issuer", "role": "issuer", "region": "", "unit": "", "password": "a-long-passphrase"})
    assert nowhere.status_code == 422 and "region" in text_of(nowhere.text)
    taken = api.post("/admin/users", data={"csrf_token": token, "username": "heping-issuer", "role": "issuer", "region": "370202001001", "password": "a-long-passphrase"})
    assert taken.status_code == 409 and 'aria-describedby="err-username"' in taken.text
    ok = api.post("/admin/users", data={"csrf_token": token, "username": "new-issuer", "full_name": "Li Ming", "role": "issuer", "region": "370202001001",
                                         "password": "a-long-passphrase"}, follow_redirects=False)
    assert ok.status_code == 303
    login(api, "new-issuer", "a-long-passphrase")

    # Disable: the existing session stops working and signing in fails.
    target = _user_id(seeded, "heping-issuer")
    assert api.post(f"/admin/users/{target}/disable", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    assert api.get("/api/v1/audit-tasks", headers=issuer_token).status_code == 401
    assert api.post("/api/v1/auth/token", data={"username": "heping-issuer", "password": "demo-pass-2026"}).status_code in (400, 401)
    assert "disabled" in text_of(api.get("/admin/users").text)
    assert api.post(f"/admin/users/{target}/enable", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    login(api, "heping-issuer")

    # An admin cannot disable themselves; the page says so and the account stays active.
    me = _user_id(seeded, "admin")
    refused = api.post(f"/admin/users/{me}/disable", data={"csrf_token": token})
    assert refused.status_code == 403 and "cannot disable their own account" in text_of(refused.text)
    assert api.post("/admin/users/nobody/disable", data={"csrf_token": token}).status_code == 404

    # Reset: a one-time temporary password shown once, or a given one.
    reset = api.post(f"/admin/users/{target}/password", data={"csrf_token": token, "new_password": ""})
    assert reset.status_code == 200
    temporary = reset.text.split('<code class="secret">')[1].split("</code>")[0]
    login(api, "heping-issuer", temporary)
    assert temporary not in api.get("/admin/users").text
    too_short = api.post(f"/admin/users/{target}/password", data={"csrf_token": token, "new_password": "short"})
    assert too_short.status_code == 422 and "password: at least 8 characters" in text_of(too_short.text)
    assert api.post(f"/admin/users/{target}/password", data={"csrf_token": token, "new_password": "another-passphrase"}, follow_redirects=False).status_code == 303
    login(api, "heping-issuer", "another-passphrase")
    # No CSRF token: refused.
    assert api.post(f"/admin/users/{target}/disable").status_code == 403

    assert _actions(seeded) == [("user_created", "new-issuer"), ("user_disabled", "heping-issuer"), ("user_enabled", "heping-issuer"),
                                ("password_reset", "heping-issuer"), ("password_reset", "heping-issuer")]


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_admin_api_disables_and_resets_and_refuses_self(api, seeded, clock):
    headers = login(api, "admin")
    target = _user_id(seeded, "hotline")
    r = api.post(f"/api/v1/admin/users/{target}/disable", headers=headers)
    assert r.status_code == 200 and r.json()["active"] is False
    me = _user_id(seeded, "admin")
    self_disable = api.post(f"/api/v1/admin/users/{me}/disable", headers=headers)
    assert self_disable.status_code == 403 and "own account" in self_disable.text
    reset = api.post(f"/api/v1/admin/users/{target}/password", json={}, headers=headers)
    assert reset.status_code == 200 and len(reset.json()["temporary_password"]) >= 12
    assert api.post(f"/api/v1/admin/users/{target}/password", json={"new_password": "short"}, headers=headers).status_code == 422
    assert api.post(f"/api/v1/admin/users/{target}/enable", headers=headers).json()["active"] is True
    login(api, "hotline", reset.json()["temporary_password"])


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_r11_admin_imports_a_year_and_sees_the_coverage(api, seeded, clock):
    sign_in(api, "admin")
    words = text_of(api.get("/admin/calendar").text)
    assert "2027 provisional" in words and "2026 official (chinesecalendar)" in words and "暂定" not in words
    assert "暂定" in text_of(api.get("/admin/calendar", headers={"Accept-Language": "zh-CN"}).text)
    token = csrf(api, "/admin/calendar")
    bad = api.post("/admin/calendar/import", data={"csrf_token": token},
                   files={"file": ("2027.txt", "year 2027\n2027-02-03 workday 调休\n".encode(), "text/plain")})
    assert bad.status_code == 422 and "file: 1 problem(s), nothing imported — line 2: 2027-02-03 is a Wednesday" in text_of(bad.text)
    binary = api.post("/admin/calendar/import", data={"csrf_token": token}, files={"file": ("x.txt", b"year 2027\n\xff\n", "text/plain")})
    assert binary.status_code == 422 and "not UTF-8" in binary.text
    ok = api.post("/admin/calendar/import", data={"csrf_token": token}, files={"file": (EXAMPLE.name, EXAMPLE.read_bytes(), "text/plain")}, follow_redirects=False)
    assert ok.status_code == 303
    words = text_of(api.get(ok.headers["location"]).text)
    assert "2027 official schedule (imported)" in words and "春节调休" in words
    with seeded.session() as s:
        assert s.get(CalendarYear, 2027).imported_by == "admin"
    assert _actions(seeded) == [("calendar_imported", "2027")]
    coverage = api.get("/api/v1/admin/calendar", headers=login(api, "admin")).json()
    assert {y["year"]: y["state"] for y in coverage["years"]}[2027] == "imported"


# The recompute reads and moves due times in the store: both kinds.
@pytest.mark.parametrize("store", ["sqlite", "postgres"], indirect=True)
def test_r11_admin_sets_a_day_and_open_deadlines_are_recomputed(api, seeded, clock):
    case, _ = open_case(seeded, clock)  # Tuesday 09:00: due the same day 16:30
    with seeded.session() as s:
        assert show(s.get(Application, case).sla_due_at) == "2026-03-03 16:30"
    sign_in(api, "admin")
    token = csrf(api, "/admin/calendar")
    bad = api.post("/admin/calendar/day", data={"csrf_token": token, "day": "3 March", "kind": "holiday", "note": "x"})
    assert bad.status_code == 422 and "day: a date, YYYY-MM-DD" in text_of(bad.text)
    no_note = api.post("/admin/calendar/day", data={"csrf_token": token, "day": "2026-03-03", "kind": "holiday", "note": " "})
    assert no_note.status_code == 422 and "note: say why" in text_of(no_note.text)
    ok = api.post("/admin/calendar/day", data={"csrf_token": token, "day": "2026-03-03", "kind": "holiday", "note": "provincial day off"}, follow_redirects=False)
    assert ok.status_code == 303 and "recomputed=1" in ok.headers["location"]
    assert "provincial day off" in text_of(api.get(ok.headers["location"]).text)
    with seeded.session() as s:
        assert show(s.get(Application, case).sla_due_at) == "2026-03-04 16:00"
        event = s.exec(select(CaseEvent).where(CaseEvent.application_id == case, CaseEvent.action == "sla_recomputed")).one()
        assert "2026-03-03 set to holiday" in event.reason
    assert _actions(seeded) == [("calendar_day_set", "2026-03-03")]
    # The API: a bad date names the path parameter; a good one works the same way.
    headers = login(api, "admin")
    assert api.put("/api/v1/admin/calendar/days/2026-02-30", json={"working": True, "note": "x"}, headers=headers).status_code == 422
    back = api.put("/api/v1/admin/calendar/days/2026-03-03", json={"working": True, "note": "the day off is cancelled"}, headers=headers)
    assert back.status_code == 200 and back.json()["recomputed"] == 1
    with seeded.session() as s:
        assert show(s.get(Application, case).sla_due_at) == "2026-03-03 16:30"


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_r2_admin_rotates_the_signing_key_the_old_one_stays_published(api, seeded, clock):
    sign_in(api, "admin")
    page = api.get("/admin/keys")
    assert page.status_code == 200 and "active" in text_of(page.text)
    old = api.get("/.well-known/jwks.json").json()["keys"][0]["kid"]
    token = csrf(api, "/admin/keys")
    assert api.post("/admin/keys/rotate", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    rows = api.get("/api/v1/admin/keys", headers=login(api, "admin")).json()
    assert [r["status"] for r in rows] == ["active", "published"] and rows[1]["kid"] == old
    assert {k["kid"] for k in api.get("/.well-known/jwks.json").json()["keys"]} == {rows[0]["kid"], old}
    assert "published" in text_of(api.get("/admin/keys").text)
    assert "已公布" in text_of(api.get("/admin/keys", headers={"Accept-Language": "zh-CN"}).text)
    assert _actions(seeded) == [("key_rotated", rows[0]["kid"])]
    # After the pass validity (14 days, R2) the old key is retired and leaves the JWKS.
    clock.advance(timedelta(days=15))
    rows = api.get("/api/v1/admin/keys", headers=login(api, "admin")).json()
    assert [r["status"] for r in rows] == ["active", "retired"]
    assert [k["kid"] for k in api.get("/.well-known/jwks.json").json()["keys"]] == [rows[0]["kid"]]


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_accounts_created_through_the_api_and_cli_rotations_are_in_the_admin_log(api, seeded, clock):
    from typer.testing import CliRunner

    from ops.cli import app

    r = api.post("/api/v1/users", json={"username": "api-issuer", "password": "a-long-passphrase", "role": "issuer", "community": "370202001001"},
                 headers=login(api, "admin"))
    assert r.status_code == 201
    result = CliRunner().invoke(app, ["keys", "rotate"])
    assert result.exit_code == 0, result.output
    kid = result.output.split("active key: ")[1].strip()
    assert _actions(seeded) == [("user_created", "api-issuer"), ("key_rotated", kid)]
