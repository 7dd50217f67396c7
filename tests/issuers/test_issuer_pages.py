"""The issuer's journey through the pages: the queue's views, claiming and handing over, the task
page's supplement answers, masked contact details, paused clocks, health flags, red-list
approvals and redirect-after-POST (issuer issue). Driven like a browser, on the injected clock."""
from __future__ import annotations

import hashlib
import re
from datetime import timedelta

from sqlmodel import select

from cases.attachments.models import Attachment
from cases.events import timeline
from cases.models import Application, AuditTask, User
from cases.services import audit
from cases.validation import resident_id_check_char
from tests.conftest import login
from tests.ui.test_pages import csrf, sign_in, standard_case, text_of

CLOSE_CONTACT = "371302198002280377"  # on the demo close-contact registry (red list)
ISSUER, ISSUER2 = "qingdao-issuer", "issuer-370202001001"  # two issuers of the example's community


def _person(i: int) -> str:
    number = f"37020219851120{500 + i:03d}"
    return number + resident_id_check_char(number)


def _claim(api, task_id: str) -> None:
    r = api.post(f"/issuer/tasks/{task_id}/claim", data={"csrf_token": csrf(api, "/issuer")}, follow_redirects=False)
    assert r.status_code == 303


def _request_supplement(api, task_id: str, items: str) -> None:
    r = api.post(f"/issuer/tasks/{task_id}/decision", data={"csrf_token": csrf(api, "/issuer"), "action": "request_supplement", "missing_items": items}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("done=supplement")


def test_r19_supplement_answers_and_paused_clock_on_the_task_page(api, seeded, clock):
    case_id, _, task_id = standard_case(api, seeded, clock)
    sign_in(api, ISSUER)
    _claim(api, task_id)
    clock.advance(timedelta(hours=1))  # 10:00: 5 working hours left
    _request_supplement(api, task_id, "arrival ticket")

    clock.advance(timedelta(hours=3))
    sign_in(api, ISSUER)  # a sign-in lasts an hour
    page = text_of(api.get(f"/issuer/tasks/{task_id}").text)
    # The clock stands still while the applicant is asked: never "On time · 5 h left".
    assert "Paused" in page and "waiting for the applicant since 2026-03-03 10:00" in page
    assert "5 h 0 min left when resumed" in page and "On time" not in page
    queue = text_of(api.get("/issuer", params={"view": "waiting"}).text)
    assert "Paused" in queue and "5 h 0 min left when resumed" in queue and "On time" not in queue

    with seeded.session() as s:
        audit.supply(session=s, application=s.get(Application, case_id), items={"arrival ticket": "G1234 Beijing South → Jinan West, 1 March 14:05"}, at=clock.now(), settings=seeded.settings)
        s.commit()
    page = text_of(api.get(f"/issuer/tasks/{task_id}").text)
    # The request, who asked and when, and the applicant's answer with its time.
    assert "Supplement requests and answers" in page
    assert "Requested 2026-03-03 10:00" in page and "arrival ticket" in page
    assert "Answered by the applicant 2026-03-03 13:00" in page
    assert "G1234 Beijing South → Jinan West, 1 March 14:05" in page
    assert "Paused" not in page


def test_r12_r21_red_list_case_is_approved_with_the_explanation_the_rules_ask_for(api, seeded, clock):
    _, _, plain_task = standard_case(api, seeded, clock)
    case_id, _, task_id = standard_case(api, seeded, clock, id_number=CLOSE_CONTACT, form_id="red-list")
    sign_in(api, ISSUER)
    assert 'name="explanation" rows="3" minlength="20"' not in api.get(f"/issuer/tasks/{plain_task}").text  # only where required

    page = api.get(f"/issuer/tasks/{task_id}").text
    assert 'id="approve_explanation"' in page and "This case hit a red list (R12)" in text_of(page)
    token = csrf(api, "/issuer")
    r = api.post(f"/issuer/tasks/{task_id}/decision", data={"csrf_token": token, "action": "approve"}, follow_redirects=False)
    assert r.status_code == 303 and "flash=" in r.headers["location"]
    shown = api.get(r.headers["location"])
    assert "approving needs an explanation" in text_of(shown.text) and 'aria-invalid="true"' in shown.text

    why = "The registry lists a different person with the same name; confirmed by the county CDC today."
    r = api.post(f"/issuer/tasks/{task_id}/decision", data={"csrf_token": token, "action": "approve", "explanation": why}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/issuer?done=approve"
    with seeded.session() as s:
        task = s.get(AuditTask, task_id)
        assert task.decision == "approve" and task.explanation == why


def test_contact_details_masked_until_a_reason_is_given_and_the_read_is_logged(api, seeded, clock):
    case_id, _, task_id = standard_case(api, seeded, clock)
    sign_in(api, ISSUER)
    page = api.get(f"/issuer/tasks/{task_id}").text
    assert "139-0532-0002" not in page and "tel:" not in page and "和平社区8号" not in page
    assert "王强" not in page and "王*" in page and "370202198511200113" not in page
    assert "Show contact details" in text_of(page)

    token = csrf(api, "/issuer")
    r = api.post(f"/issuer/tasks/{task_id}/contact-details", data={"csrf_token": token, "reason": ""}, follow_redirects=False)
    assert r.status_code == 303
    again = api.get(r.headers["location"]).text
    assert "at least 10 characters" in text_of(again) and "139-0532-0002" not in again

    reason = "phone the applicant to verify the address (R19)"
    r = api.post(f"/issuer/tasks/{task_id}/contact-details", data={"csrf_token": token, "reason": reason}, follow_redirects=False)
    assert r.status_code == 303
    shown = api.get(f"/issuer/tasks/{task_id}").text
    assert 'href="tel:139-0532-0002"' in shown and "和平社区8号" in text_of(shown) and reason in text_of(shown)
    assert "王强" in shown and "370202198511200113" in shown
    with seeded.session() as s:
        user = s.exec(select(User).where(User.username == ISSUER)).one()
        reads = [e for e in timeline(s, case_id) if e.action == "personal_data_read"]
        assert len(reads) == 1 and reads[0].actor == user.id and reads[0].reason == reason

    clock.advance(timedelta(minutes=11))  # a short while only
    assert "139-0532-0002" not in api.get(f"/issuer/tasks/{task_id}").text


def test_failed_decisions_redirect_and_a_reload_sends_nothing_again(api, seeded, clock):
    _, _, task_id = standard_case(api, seeded, clock)
    sign_in(api, ISSUER2)
    _claim(api, task_id)
    sign_in(api, ISSUER)
    token = csrf(api, "/issuer")
    r = api.post(f"/issuer/tasks/{task_id}/decision", data={"csrf_token": token, "action": "approve"}, follow_redirects=False)
    assert r.status_code == 303  # a 409 conflict, answered with a redirect too
    page = api.get(r.headers["location"])
    assert page.status_code == 200 and "claimed by another issuer" in text_of(page.text)
    # Another decision won (409): said at the top, on a GET.
    sign_in(api, ISSUER2)
    assert api.post(f"/issuer/tasks/{task_id}/decision", data={"csrf_token": csrf(api, "/issuer"), "action": "approve"}, follow_redirects=False).status_code == 303
    sign_in(api, ISSUER)
    r = api.post(f"/issuer/tasks/{task_id}/decision", data={"csrf_token": csrf(api, "/issuer"), "action": "approve"}, follow_redirects=False)
    assert r.status_code == 303
    page = text_of(api.get(r.headers["location"]).text)
    assert "already decided: approve by issuer-370202001001" in page and "Your decision was not recorded" in page
    # A forged flash shows nothing.
    forged = api.get(f"/issuer/tasks/{task_id}", params={"flash": '{"k":"conflict","m":"Call 110 now"}', "sig": "0" * 32}).text
    assert "Call 110 now" not in forged


def test_queue_views_with_counts_paging_claim_release_and_reassign(api, seeded, clock, monkeypatch):
    import ui.pages.issuer as issuer_pages

    tasks = [standard_case(api, seeded, clock, form_id=f"queue-{i}", id_number=_person(i))[2] for i in range(3)]
    sign_in(api, ISSUER)
    queue = api.get("/issuer").text
    words = text_of(queue)
    assert "All open (3)" in words and "Unclaimed (3)" in words and "Mine (0)" in words and "Done by me (0)" in words
    zh = text_of(api.get("/issuer", headers={"Accept-Language": "zh-CN"}).text)  # one language per page
    assert "全部待办 (3)" in zh and "未受理 (3)" in zh and "我的 (0)" in zh and "我已办结 (0)" in zh and "All open" not in zh
    assert "花园社区 Huayuan Community" in words  # the community by name, not its code

    # Claim from the queue row; the view stays in the URL.
    token = csrf(api, "/issuer")
    r = api.post(f"/issuer/tasks/{tasks[0]}/claim", data={"csrf_token": token, "next": "/issuer?view=unclaimed"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/issuer?view=unclaimed&done=claimed"
    mine = text_of(api.get("/issuer", params={"view": "mine"}).text)
    assert "Mine (1)" in mine and "Unclaimed (2)" in mine and "Reassign" in mine

    # Hand it to the colleague: an event, the clock unchanged; then they release it.
    r = api.post(f"/issuer/tasks/{tasks[0]}/reassign", data={"csrf_token": token, "to_username": ISSUER2, "next": "/issuer?view=mine"}, follow_redirects=False)
    assert r.status_code == 303 and "done=reassigned" in r.headers["location"]
    with seeded.session() as s:
        task = s.get(AuditTask, tasks[0])
        colleague = s.exec(select(User).where(User.username == ISSUER2)).one()
        assert task.claimed_by == colleague.id
        assert [e.action for e in timeline(s, task.application_id)][-2:] == ["claimed", "reassigned"]
    assert "Mine (0)" in text_of(api.get("/issuer").text)
    r = api.post(f"/issuer/tasks/{tasks[0]}/release", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303 and "flash=" in r.headers["location"]  # not theirs to release
    sign_in(api, ISSUER2)
    r = api.post(f"/issuer/tasks/{tasks[0]}/release", data={"csrf_token": csrf(api, "/issuer")}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("done=released")
    with seeded.session() as s:
        assert s.get(AuditTask, tasks[0]).claimed_by is None

    # Done by me: the issuer's own decisions.
    sign_in(api, ISSUER)
    token = csrf(api, "/issuer")
    assert api.post(f"/issuer/tasks/{tasks[1]}/decision", data={"csrf_token": token, "action": "approve"}, follow_redirects=False).status_code == 303
    done = text_of(api.get("/issuer", params={"view": "done"}).text)
    assert "Done by me (1)" in done and "approve" in done

    # Paging, in the URL.
    monkeypatch.setattr(issuer_pages, "PER_PAGE", 1)
    first = api.get("/issuer").text
    assert "Page 1 / 2" in text_of(first) and 'href="/issuer?view=open&amp;page=2"' in first
    second = text_of(api.get("/issuer", params={"view": "open", "page": "2"}).text)
    assert "Page 2 / 2" in second


def test_r8_declared_fever_and_places_by_name_on_the_task(api, seeded, clock):
    _, _, task_id = standard_case(api, seeded, clock, temperature="37.5", stay_place_0="420106")
    sign_in(api, ISSUER)
    page = text_of(api.get(f"/issuer/tasks/{task_id}").text)
    assert "Declared health status" in page and "37.5 °C" in page and "Abnormal : fever" in page.replace(":", " :").replace("  ", " ")
    assert "湖北省武汉市" in page  # the stay outside Shandong by name (code 420106)
    assert "花园社区 Huayuan Community" in page


def test_r12_comparison_hits_named_on_the_task(api, seeded, clock):
    _, _, task_id = standard_case(api, seeded, clock, id_number=CLOSE_CONTACT, form_id="hits")
    sign_in(api, ISSUER)
    page = text_of(api.get(f"/issuer/tasks/{task_id}").text)
    assert "Registry" in page and "close contact" in page and "What matched" in page
    assert "数据源" in text_of(api.get(f"/issuer/tasks/{task_id}", headers={"Accept-Language": "zh-CN"}).text)


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _waiting_case(api, seeded, clock, form_id: str, person: int):
    case_id, token, task_id = standard_case(api, seeded, clock, form_id=form_id, id_number=_person(person))
    sign_in(api, ISSUER)
    _claim(api, task_id)
    _request_supplement(api, task_id, "arrival ticket")
    return case_id, token, task_id


def test_r19_supplement_files_checked_by_content_stored_and_downloaded(api, seeded, clock):
    case_id, token, task_id = _waiting_case(api, seeded, clock, "files", 10)
    case_page = api.get(f"/cases/{case_id}", params={"access_token": token}).text
    assert 'enctype="multipart/form-data"' in case_page and 'name="file_0"' in case_page
    form = {"form_token": re.search(r'name="form_token" value="([^"]+)"', case_page).group(1), "item_name_0": "arrival ticket", "item_0": ""}
    form["csrf_token"] = re.search(r'name="csrf_token" value="([^"]+)"', case_page).group(1)  # this browser is an issuer's too
    url = f"/cases/{case_id}/supplement"

    # A "PDF" that is an HTML page: refused by its content, naming the item and the reason; nothing stored.
    r = api.post(url, params={"access_token": token}, data=form, files={"file_0": ("ticket.pdf", b"<html><script>alert(1)</script>", "application/pdf")})
    assert r.status_code == 422 and "is not a PDF, JPEG or PNG file (read from its content)" in text_of(r.text)
    too_big = {"file_0": ("big.png", PNG + b"\x00" * (5 * 1024 * 1024), "image/png")}
    r = api.post(url, params={"access_token": token}, data=form, files=too_big)
    assert r.status_code == 422 and "at most 5 MB per file" in text_of(r.text)
    six = [("file_0", (f"p{i}.png", PNG, "image/png")) for i in range(6)]
    r = api.post(url, params={"access_token": token}, data=form, files=six)
    assert r.status_code == 422 and "at most 5 files per answer" in text_of(r.text)
    with seeded.session() as s:
        assert s.exec(select(Attachment)).all() == [] and s.get(AuditTask, task_id).status.value == "waiting_applicant"

    # A real PDF alone answers the item.
    r = api.post(url, params={"access_token": token}, data=form, files={"file_0": ("车票 ticket.pdf", PDF, "text/plain")}, follow_redirects=False)
    assert r.status_code == 303
    with seeded.session() as s:
        row = s.exec(select(Attachment)).one()
        assert (row.content_type, row.size, row.sha256, row.item) == ("application/pdf", len(PDF), hashlib.sha256(PDF).hexdigest(), "arrival ticket")

    # The issuer downloads it from the task page: an attachment, its real type, never sniffed.
    page = api.get(f"/issuer/tasks/{task_id}").text
    link = f"/issuer/tasks/{task_id}/attachments/{row.id}"
    assert link in page and "车票 ticket.pdf" in text_of(page)
    got = api.get(link)
    assert got.status_code == 200 and got.content == PDF and got.headers["content-type"] == "application/pdf"
    assert got.headers["content-disposition"].startswith("attachment;") and got.headers["x-content-type-options"] == "nosniff"
    sign_in(api, "heping-issuer")  # another community's issuer
    assert api.get(link).status_code == 404

    # The applicant sees what they sent.
    files = api.get(f"/cases/{case_id}/supplement/files", params={"access_token": token}).text
    assert "车票 ticket.pdf" in text_of(files)
    own = api.get(f"/cases/{case_id}/attachments/{row.id}", params={"access_token": token})
    assert own.status_code == 200 and own.content == PDF
    assert api.get(f"/cases/{case_id}/attachments/{row.id}", params={"access_token": "0" * 32}).status_code == 404


def test_r19_supplement_files_through_the_api(api, seeded, clock):
    case_id, token, task_id = _waiting_case(api, seeded, clock, "api-files", 11)
    head = {"X-Access-Token": token}
    url = f"/api/v1/applications/{case_id}/supplement/files"
    bad = api.post(url, headers=head, data={"items": '{"arrival ticket": "see scan"}', "file_item": ["arrival ticket"]}, files={"file": ("scan.png", b"GIF89a....", "image/png")})
    assert bad.status_code == 422 and "file[0]" in bad.text and "not a PDF, JPEG or PNG" in bad.text
    ok = api.post(url, headers=head, data={"items": '{"arrival ticket": "see scan"}', "file_item": ["arrival ticket"]}, files={"file": ("scan.png", PNG, "application/octet-stream")})
    assert ok.status_code == 200 and ok.json()["files"] == 1
    with seeded.session() as s:
        row = s.exec(select(Attachment)).one()
    got = api.get(f"/api/v1/applications/{case_id}/attachments/{row.id}", headers=head)
    assert got.status_code == 200 and got.headers["content-type"] == "image/png" and got.headers["content-disposition"].startswith("attachment;")
    assert api.get(f"/api/v1/applications/{case_id}/attachments/{row.id}", headers=login(api, "heping-issuer")).status_code == 404
    assert api.get(f"/api/v1/applications/{case_id}/attachments/{row.id}", headers=login(api, ISSUER)).status_code == 200


def test_queue_views_through_the_api(api, seeded, clock):
    _, _, task_id = standard_case(api, seeded, clock, form_id="api-views", id_number=_person(12))
    head = login(api, ISSUER)
    assert api.get("/api/v1/audit-tasks/counts", headers=head).json() == {"open": 1, "mine": 0, "unclaimed": 1, "waiting": 0, "done": 0}
    assert api.post(f"/api/v1/audit-tasks/{task_id}/claim", headers=head).status_code == 200
    assert [t["task_id"] for t in api.get("/api/v1/audit-tasks", params={"view": "mine"}, headers=head).json()] == [task_id]
    assert api.get("/api/v1/audit-tasks", params={"view": "unclaimed"}, headers=head).json() == []
    assert api.get("/api/v1/audit-tasks", params={"view": "nonsense"}, headers=head).status_code == 422


def test_issuer_page_routes_by_role(api, seeded, clock):
    """The queue and task routes as each kind of visitor: signed out (to the sign-in page), a
    supervisor (403), an issuer of another community (404, nothing revealed), the holder's issuer."""
    _, _, task_id = standard_case(api, seeded, clock, form_id="roles", id_number=_person(13))
    gets = ["/issuer?view=mine", f"/issuer/tasks/{task_id}", f"/issuer/tasks/{task_id}/attachments/{'0' * 32}"]
    posts = [f"/issuer/tasks/{task_id}/{action}" for action in ("claim", "release", "reassign", "contact-details")]
    for url in gets:
        assert api.get(url, follow_redirects=False).status_code == 303  # signed out: to /login
    for url in posts:
        assert api.post(url, data={}, follow_redirects=False).status_code == 303
    sign_in(api, "heping-issuer")
    token = csrf(api, "/issuer")
    for url in gets[1:]:
        assert api.get(url).status_code == 404
    for url in posts:
        assert api.post(url, data={"csrf_token": token, "reason": "a reason long enough"}).status_code == 404
    assert api.get("/issuer", params={"view": "bogus", "page": "x"}).status_code == 200  # unknown filters fall back
    sign_in(api, ISSUER)
    token = csrf(api, "/issuer")
    assert api.get(gets[1]).status_code == 200 and api.get(gets[2]).status_code == 404
    for url in posts:
        assert api.post(url, data={"csrf_token": token}, follow_redirects=False).status_code == 303
    with seeded.session() as s:
        actions = [e.action for e in timeline(s, s.get(AuditTask, task_id).application_id)]
        assert actions[-2:] == ["claimed", "reassigned"] and s.get(AuditTask, task_id).claimed_by is None  # claimed, then released
