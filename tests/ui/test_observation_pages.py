"""The applicant's own forms on the server-rendered pages: the daily health report of an arrival
in isolation observation (R8, R9 on the case page) and the answer to a supplement request (R19),
both authorised by the access token and a hidden form token derived from it; and the error pages.

Driven the way a browser does: HTML forms, redirects, no JavaScript. No Prefect: the workflow
steps are run in a store session, as the other page tests do."""
from __future__ import annotations

import html
import re
from datetime import date, timedelta

import pytest
from sqlmodel import select

from cases.models import Application, AuditTask, DailyReport
from cases.services import workflow
from tests.conftest import login
from tests.helpers import example


# ---------------------------------------------------------------- helpers ---

def hidden(page: str, name: str) -> str:
    m = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert m, f"no hidden field {name}"
    return html.unescape(m.group(1))


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def sign_in(api, username: str, password: str = "demo-pass-2026"):
    page = api.get("/login").text
    return api.post("/login", data={"username": username, "password": password, "login_token": hidden(page, "login_token"), "next": ""}, follow_redirects=False)


def created(api, kind: str, today: date) -> tuple[str, str]:
    r = api.post("/api/v1/applications", json=example(kind, today))
    assert r.status_code == 201, r.text
    return r.json()["id"], r.json()["access_token"]


@pytest.fixture
def observing(api, seeded, clock) -> tuple[str, str]:
    """The arrival example (arrived yesterday, 2026-03-02 = day 1), in isolation observation."""
    case_id, token = created(api, "arrival", clock.now().date())
    with seeded.session() as s:
        app = s.get(Application, case_id)
        workflow.declare(session=s, application=app, at=clock.now())
        workflow.compare(session=s, application=app, at=clock.now(), settings=seeded.settings, accept_incomplete=True)
        assert workflow.open_observation(session=s, application=app, at=clock.now(), settings=seeded.settings)
        s.commit()
    return case_id, token


def report_form(api, case_id: str, token: str, **params) -> str:
    r = api.get(f"/cases/{case_id}/report", params={"access_token": token, **params})
    assert r.status_code == 200, r.text
    return r.text


def post_report(api, case_id: str, token: str, form_token: str, **fields):
    data = {"form_token": form_token, "temperature": "36.6", "location_confirmed": "yes"} | fields
    return api.post(f"/cases/{case_id}/report", params={"access_token": token}, data=data, follow_redirects=False)


def reports(store, case_id: str) -> list[DailyReport]:
    with store.session() as s:
        return list(s.exec(select(DailyReport).where(DailyReport.application_id == case_id).order_by(DailyReport.day)))


# ------------------------------------------------------------------ tests ---

def test_r8_daily_report_page_records_a_report(api, seeded, clock, observing):
    case_id, token = observing
    case = api.get(f"/cases/{case_id}", params={"access_token": token}).text
    button = re.search(r'<a class="button big go" href="([^"]+)">', case)
    assert button and "Report today" in text_of(case)
    in_chinese = api.get(f"/cases/{case_id}", params={"access_token": token}, headers={"Accept-Language": "zh-CN"}).text
    assert "今日健康打卡" in text_of(in_chinese)
    assert html.unescape(button.group(1)) == f"/cases/{case_id}/report?access_token={token}"

    page = report_form(api, case_id, token)
    words = text_of(page)
    assert "Daily health report" in words and '<label for="temperature">' in page
    assert 'value="2026-03-03" selected' in page  # today, Asia/Shanghai
    assert 'type="checkbox" name="symptoms" value="cough"' in page and 'name="location_confirmed" value="yes"' in page
    assert "<script" not in page.split("</head>")[1]  # nothing but the shared progressive-enhancement file

    r = post_report(api, case_id, token, hidden(page, "form_token"))
    assert r.status_code == 303
    assert r.headers["location"] == f"/cases/{case_id}?access_token={token}&done=reported"
    case = api.get(r.headers["location"]).text
    words = text_of(case)
    assert "Your daily health report was received" in words and "Today's report received" in words
    assert "Report today" not in words
    [row] = reports(seeded, case_id)
    assert (row.day, row.temperature, row.symptoms, row.location_confirmed, row.late, row.abnormal) == (date(2026, 3, 3), 36.6, [], True, False, False)

    # The missed day 1 can still be reported (late); a symptom makes it abnormal and the case page says so.
    page = report_form(api, case_id, token, day="2026-03-02")
    assert 'value="2026-03-02" selected' in page
    r = post_report(api, case_id, token, hidden(page, "form_token"), day="2026-03-02", symptoms=["cough"], temperature="36,9")
    assert r.status_code == 303 and r.headers["location"].endswith("&done=reported_abnormal")
    assert "your community has been told and will contact you" in text_of(api.get(r.headers["location"]).text)
    late = reports(seeded, case_id)[0]
    assert (late.day, late.temperature, late.late, late.abnormal, late.symptoms) == (date(2026, 3, 2), 36.9, True, True, ["cough"])
    # Why the observation is held, in the reader's language (R8).
    held = api.get(r.headers["location"])
    assert "abnormal report on 2026-03-02 (day 1: 36.9 °C, cough) awaits the community's outcome" in text_of(held.text)
    assert "2026-03-02（第1天：36.9 °C, cough）的异常报告待社区处理" in text_of(api.get(r.headers["location"], headers={"Accept-Language": "zh-CN"}).text)

    # Authorised by the access token and the form token derived from it, never by a session.
    assert post_report(api, case_id, token, "").status_code == 403
    assert post_report(api, case_id, token, "0" * 64).status_code == 403
    assert post_report(api, case_id, "0" * 40, hidden(page, "form_token")).status_code == 404
    assert api.get(f"/cases/{case_id}/report", params={"access_token": "0" * 40}).status_code == 404
    sign_in(api, "heping-issuer")  # the case's own issuer: the cookie opens the case page, not the form
    assert api.get(f"/cases/{case_id}/report").status_code == 404
    staff_view = text_of(api.get(f"/cases/{case_id}").text)
    assert "Isolation observation" in staff_view and "Report today" not in staff_view
    assert len(reports(seeded, case_id)) == 2


def test_r8_second_report_same_day_is_refused_on_the_form(api, seeded, clock, observing):
    case_id, token = observing
    page = report_form(api, case_id, token)
    form_token = hidden(page, "form_token")
    assert post_report(api, case_id, token, form_token).status_code == 303

    again = post_report(api, case_id, token, form_token, temperature="37.0", symptoms=["cough", "fatigue"], location_confirmed="no")
    words = text_of(again.text)
    assert again.status_code == 409
    assert "A report for 2026-03-03 was received already: one report a day (R8)" in words and "每天只能报告一次" not in words
    in_chinese = api.post(f"/cases/{case_id}/report", params={"access_token": token}, headers={"Accept-Language": "zh-CN"},
                          data={"form_token": form_token, "day": "2026-03-03", "temperature": "36.6", "location_confirmed": "yes"})
    assert in_chinese.status_code == 409 and "每天只能报告一次" in text_of(in_chinese.text)
    assert 'id="err-day"' in again.text and 'aria-describedby="err-day"' in again.text
    # What was typed is still there.
    assert 'value="37.0"' in again.text and 'value="cough" checked' in again.text and 'value="fatigue" checked' in again.text
    assert 'value="no" checked' in again.text and 'value="2026-03-03" selected' in again.text
    assert 'value="sore_throat" checked' not in again.text

    # 422s: named on their field, values kept, nothing stored.
    bad = post_report(api, case_id, token, form_token, day="2026-03-02", temperature="hot", location_confirmed="")
    assert bad.status_code == 422
    assert 'id="err-temperature"' in bad.text and 'id="err-location_confirmed"' in bad.text and 'value="hot"' in bad.text
    assert 'value="2026-03-02" selected' in bad.text
    future = post_report(api, case_id, token, form_token, day="2026-03-04")
    assert future.status_code == 422 and 'id="err-day"' in future.text and "not come yet" in text_of(future.text)
    before = post_report(api, case_id, token, form_token, day="2026-02-20")
    assert before.status_code == 422 and 'id="err-day"' in before.text
    hot = post_report(api, case_id, token, form_token, day="2026-03-02", temperature="45")
    assert hot.status_code == 422 and 'id="err-temperature"' in hot.text
    assert [r.day for r in reports(seeded, case_id)] == [date(2026, 3, 3)]


def test_r9_case_page_shows_period_and_countdown(api, seeded, clock, observing):
    case_id, token = observing
    case = api.get(f"/cases/{case_id}", params={"access_token": token}).text
    words = text_of(case)
    # Arrived 2026-03-02 (day 1); day 14 is 2026-03-15; the period ends at 00:00 of day 15.
    assert "Day 1 2026-03-02 … day 14 2026-03-15" in words
    assert "2026-03-16 00:00" in words and "00:00 of day 15" in words
    assert "12 d 15 h 0 min" in words and 'data-deadline="2026-03-16T00:00:00+08:00"' in case
    days = re.findall(r'<li class="day day-(\w+)( today)?"', case)
    assert len(days) == 14
    # Declared on day 2: day 1 lies before the declaration and is not missing (R8, R9).
    assert days[0] == ("not_due", "") and days[1] == ("upcoming", " today") and {d[0] for d in days[2:]} == {"upcoming"}
    assert 'aria-current="date"' in case and "no report needed" in words and "1 missing" not in words
    assert "Report today" in words and "Report day 1" not in words

    # Day 1 reported late (no symptoms), then a day passes without a report.
    page = report_form(api, case_id, token, day="2026-03-02")
    assert post_report(api, case_id, token, hidden(page, "form_token"), day="2026-03-02").status_code == 303
    clock.advance(timedelta(days=1))  # 2026-03-04 09:00, day 3
    case = api.get(f"/cases/{case_id}", params={"access_token": token}).text
    words = text_of(case)
    days = re.findall(r'<li class="day day-(\w+)( today)?"', case)
    assert days[:3] == [("late", ""), ("missing", ""), ("upcoming", " today")]
    assert "Reported late" in words and "已补报" not in words and "11 d 15 h 0 min" in words and "Report today" in words
    assert "已补报" in text_of(api.get(f"/cases/{case_id}", params={"access_token": token}, headers={"Accept-Language": "zh-CN"}).text)
    assert "1 of 14 days" in words


def test_supplement_answer_resumes_the_clock(api, seeded, clock):
    case_id, token = created(api, "standard", clock.now().date())
    with seeded.session() as s:
        app = s.get(Application, case_id)
        workflow.declare(session=s, application=app, at=clock.now())
        workflow.compare(session=s, application=app, at=clock.now(), settings=seeded.settings, accept_incomplete=True)
        task_id = workflow.assign_audit(session=s, application=app, at=clock.now(), settings=seeded.settings)["task_id"]
        s.commit()
        due_before = s.get(Application, case_id).sla_due_at
    issuer = login(api, "qingdao-issuer")
    r = api.post(f"/api/v1/audit-tasks/{task_id}/decision", json={"action": "request_supplement", "missing_items": ["arrival ticket", "employer's letter <b>"]}, headers=issuer)
    assert r.status_code == 200, r.text
    clock.advance(timedelta(hours=1))  # 10:00: one working hour passes while the applicant owes the items

    assert api.get(f"/cases/{case_id}/report", params={"access_token": token}).status_code == 404  # no observation
    case = api.get(f"/cases/{case_id}", params={"access_token": token}).text
    words = text_of(case)
    assert "Supply the requested items" in words and "Isolation observation" not in words
    zh = text_of(api.get(f"/cases/{case_id}", params={"access_token": token}, headers={"Accept-Language": "zh-CN"}).text)
    assert "补充材料" in zh and "Supply the requested items" not in zh
    assert '<label for="item_0">arrival ticket' in case and "employer&#39;s letter &lt;b&gt;" in case  # escaped
    form_token = hidden(case, "form_token")
    action = html.unescape(re.search(r'<form method="post" action="([^"]+/supplement[^"]*)"', case).group(1))
    assert action == f"/cases/{case_id}/supplement?access_token={token}"
    items = {"item_name_0": "arrival ticket", "item_name_1": "employer's letter <b>"}

    # One item left empty: refused on the form, the other answer kept, the clock still paused.
    r = api.post(action, data={"form_token": form_token, **items, "item_0": "G1234 Beijing South → Qingdao North", "item_1": " "})
    assert r.status_code == 422 and 'id="err-item_1"' in r.text and "G1234 Beijing South → Qingdao North" in r.text
    # Without the form token, or with the daily-report form's token: refused.
    from ui.pages import applicant_form_token

    assert api.post(action, data={**items, "item_0": "x", "item_1": "y"}).status_code == 403
    report_token = applicant_form_token(case_id, token, "report", seeded.settings)
    assert api.post(action, data={"form_token": report_token, **items, "item_0": "x", "item_1": "y"}).status_code == 403
    with seeded.session() as s:
        assert s.get(Application, case_id).status.value == "awaiting_applicant"

    r = api.post(action, data={"form_token": form_token, **items, "item_0": "G1234 Beijing South → Qingdao North", "item_1": "Letter from Qingdao Port, ref 2026-17"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/cases/{case_id}?access_token={token}&done=supplied"
    page = api.get(r.headers["location"]).text
    words = text_of(page)
    assert "the deadline clock runs again" in words and "Supply the requested items" not in words
    assert "Items supplied" in words and "Deadline clock resumed" in words
    with seeded.session() as s:
        app = s.get(Application, case_id)
        assert app.status.value == "awaiting_audit" and app.sla_paused_at is None
        assert app.sla_due_at - due_before == timedelta(hours=1)  # 16:30 -> 17:30: the paused hour is not counted
        assert s.get(AuditTask, task_id).status.value == "open"
    assert "2026-03-03 17:30" in words

    # A second submission (a double click) changes nothing and says why.
    again = api.post(action, data={"form_token": form_token, **items, "item_0": "x", "item_1": "y"})
    assert again.status_code == 409 and "Nothing is requested from you now" in text_of(again.text)


def test_error_pages_show_the_signed_in_navigation(api, seeded, clock):
    anonymous = api.get("/cases/nope/report", params={"access_token": "0" * 40})
    assert anonymous.status_code == 404 and "Staff sign-in" in text_of(anonymous.text) and "Sign out" not in text_of(anonymous.text)

    sign_in(api, "qingdao-issuer")
    refused = api.get("/supervisor")
    words = text_of(refused.text)
    assert refused.status_code == 403 and "Not for your role" in words
    assert "qingdao-issuer" in words and "Sign out" in words and 'href="/issuer"' in refused.text and "Staff sign-in" not in words
    assert hidden(refused.text, "csrf_token")  # the sign-out form works from the error page
    missing = api.get("/issuer/tasks/no-such-task")
    assert missing.status_code == 404 and "Sign out" in text_of(missing.text) and "My queue" in text_of(missing.text)
    no_csrf = api.post("/issuer/sign-in")
    assert no_csrf.status_code == 403 and "Sign out" in text_of(no_csrf.text)
    case = api.get("/cases/nope")
    assert case.status_code == 404 and "Sign out" in text_of(case.text)
