"""The applicant's case page tells the truth: what happened, why and what to do now (R2, R7-R9,
R15, R20, R21), with the code first on a phone. Pages driven as a browser does, time injected."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlmodel import select

from cases.models import Application, Pass, User
from cases.services import audit, passes, workflow
from tests.helpers import example
from tests.ui.test_pages import apply, form_of, standard_case, text_of


def _decide(store, clock, case_id: str, task_id: str, action: str, *, red_list: bool = False, issuer: str = "qingdao-issuer", **kw) -> None:
    """The community's issuer takes the case and decides; the flow's last step issues (or not) the pass."""
    with store.session() as s:
        issuer = s.exec(select(User).where(User.username == issuer)).one()
        app = s.get(Application, case_id)
        if red_list:
            app.red_list = True  # as a comparison hit on the red list leaves it
            s.add(app)
        audit.claim(session=s, task_id=task_id, user=issuer, at=clock.now())
        if kw.get("reason_code") == "identity_not_established":
            audit.decide(session=s, task_id=task_id, user=issuer, action="verify_contact", contact_method="phone", explanation="Called twice, no answer.", at=clock.now(), settings=store.settings)
        audit.decide(session=s, task_id=task_id, user=issuer, action=action, at=clock.now(), settings=store.settings, **kw)
        workflow.finish(session=s, application=s.get(Application, case_id), at=clock.now(), settings=store.settings)
        s.commit()


def _page(api, case_id: str, token: str, lang: str = "en") -> str:
    r = api.get(f"/cases/{case_id}", params={"access_token": token}, headers={"Accept-Language": lang})
    assert r.status_code == 200
    return r.text


def _steps(page: str) -> list[tuple[str, str]]:
    """(state, label) of each step of the progress bar, in order."""
    return [(state, text_of(label).strip()) for state, label in re.findall(r'<li class="step (\w+)".*?<span class="label">(.*?)</span>\s*<span class="sr">', page, re.S)]


def test_r21_rejected_case_says_on_top_what_happened_why_and_what_to_do(api, seeded, clock):
    case_id, token, task_id = standard_case(api, seeded, clock)
    _decide(seeded, clock, case_id, task_id, "reject", reason_code="identity_not_established", explanation="Nobody at the declared address; phone unanswered twice.")
    page = _page(api, case_id, token)
    words = text_of(page)
    with seeded.session() as s:
        app = s.get(Application, case_id)
        reference, community = app.reference, app.community_code

    # The badge says rejected, not a green "Completed"; no green tick says a pass was issued.
    badge = re.search(r'<span class="badge status-(\w+)">', page).group(1)
    assert badge == "rejected" and "Completed" not in text_of(page.split('class="steps"')[0])
    steps = _steps(page)
    assert ("failed", "Rejected by the community/unit") in steps
    assert steps[-1] == ("failed", "No pass issued")
    zh_steps = _steps(_page(api, case_id, token, "zh-CN"))  # one language per page: the same steps in Chinese
    assert ("failed", "社区（单位）审核未通过") in zh_steps and zh_steps[-1] == ("failed", "未发码")
    assert not any(state == "done" and "Pass" in label for state, label in steps)
    # What, why and what now, above the progress and the timeline.
    top = text_of(page.split('class="steps"')[0])
    assert "Your application was rejected" in top and "No pass was issued for this case." in top
    assert "Your identity could not be established" in top and "Nobody at the declared address; phone unanswered twice." in top
    assert "Apply again" in top and "a decided case can no longer be amended" in top
    assert f'href="/complaints/new?case={reference}&amp;region={community}"' in page.split('class="steps"')[0]
    assert "0532-" in top  # the community's telephone from the directory
    assert "No pass yet" not in words
    # The complaint form opens prefilled with the case and the community.
    form = api.get(f"/complaints/new?case={reference}&region={community}").text
    assert f'value="{reference}"' in form and re.search(rf'value="{community}"\s+selected', form)


def test_r2_red_code_is_a_red_step_never_under_green_ticks(api, seeded, clock):
    case_id, token, task_id = standard_case(api, seeded, clock)
    _decide(seeded, clock, case_id, task_id, "reject", red_list=True, reason_code="comparison_confirmed", explanation="Confirmed case record of 2026-03-01.")
    page = _page(api, case_id, token)
    assert "band-red" in page
    steps = _steps(page)
    assert steps[-1] == ("failed", "Red code")
    assert [label for state, label in steps if state == "done"] == ["Declaration", "Big-data comparison"]
    zh_steps = _steps(_page(api, case_id, token, "zh-CN"))
    assert zh_steps[-1] == ("failed", "红码") and [label for state, label in zh_steps if state == "done"] == ["申报", "大数据比对"]
    top = text_of(page.split('class="steps"')[0])
    assert "A red code was issued: checkpoints do not let it pass." in top
    assert "confirmed or suspected case record" in top


def test_r2_revoked_pass_says_when_and_why_not_no_pass_yet(api, seeded, clock):
    case_id, token, task_id = standard_case(api, seeded, clock)
    _decide(seeded, clock, case_id, task_id, "approve")
    issued = _page(api, case_id, token)
    assert [state for state, _ in _steps(issued)] == ["done"] * 4 and _steps(issued)[-1][1] == "Green code issued"
    assert _steps(_page(api, case_id, token, "zh-CN"))[-1][1] == "已发绿码"
    assert "Your pass was revoked" not in text_of(issued) and "status-completed" in issued
    clock.advance(timedelta(hours=2))
    with seeded.session() as s:
        p = s.exec(select(Pass).where(Pass.application_id == case_id)).one()
        card = p.card_number
        passes.revoke(session=s, pass_=p, reason="re-decided after a complaint: the applicant is a close contact", by="auditor", at=clock.now(), settings=seeded.settings)
        s.commit()
    page = _page(api, case_id, token)
    top = text_of(page.split('class="steps"')[0])
    assert "No pass yet" not in text_of(page)
    assert "Your pass was revoked" in top and card in top and "2026-03-03 11:" in top
    assert "re-decided after a complaint: the applicant is a close contact" in top
    assert "Complain about this case" in top and re.search(r'<span class="badge status-revoked">', page)
    assert _steps(page)[-1] == ("failed", "Pass revoked")
    assert _steps(_page(api, case_id, token, "zh-CN"))[-1] == ("failed", "通行卡已撤销")
    view = api.get(f"/api/v1/applications/{case_id}", headers={"X-Access-Token": token}).json()
    assert view["pass"] is None and view["revoked_pass"]["card_number"] == card and view["revoked_pass"]["reason"].startswith("re-decided")


def test_r2_superseded_pass_names_the_newer_case(api, seeded, clock):
    first, token, task_id = standard_case(api, seeded, clock)
    _decide(seeded, clock, first, task_id, "approve")
    clock.advance(timedelta(days=3))
    second, _, task2 = standard_case(api, seeded, clock, form_id="second-form")
    _decide(seeded, clock, second, task2, "approve")
    with seeded.session() as s:
        newer = s.get(Application, second).reference
    top = text_of(_page(api, first, token).split('class="steps"')[0])
    assert "Your pass was revoked" in top and "A newer pass was issued to you" in top
    assert "Show your newer pass instead" in top and newer in top
    assert "Complain about this case" not in top


def test_r7_r9_observation_steps_yellow_daily_reports_green_after_14_days(api, seeded, clock):
    r = apply(api, form_of(example("arrival", clock.now().date())))
    case_id = r.headers["location"].split("/cases/")[1].split("?")[0]
    token = re.search(r"access_token=([0-9a-f]+)", r.headers["location"]).group(1)
    with seeded.session() as s:
        app = s.get(Application, case_id)
        workflow.declare(session=s, application=app, at=clock.now())
        workflow.compare(session=s, application=app, at=clock.now(), settings=seeded.settings, accept_incomplete=True)
        assert workflow.open_observation(session=s, application=app, at=clock.now(), settings=seeded.settings)
        s.commit()
    page = _page(api, case_id, token)
    steps = _steps(page)
    assert [label.split(" ")[0] for _, label in steps] == ["Declaration", "Yellow", "Big-data", "Daily", "Green"]
    assert [state for state, _ in steps] == ["done", "done", "done", "current", "todo"]
    assert "audit" not in text_of(page.split('class="steps"')[1].split("</ol>")[0]).lower()
    assert "Report today" in text_of(page)


def test_mobile_code_comes_first_colour_qr_and_card_number(api, seeded, clock):
    """On a 390×844 phone the QR is what a checkpoint asks for: the pass comes right after the
    title, before the notices, the progress and the observation days."""
    r = apply(api, form_of(example("arrival", clock.now().date())))
    page = api.get(r.headers["location"]).text
    with seeded.session() as s:
        card = s.exec(select(Pass.card_number)).one()
    main = page.split("<main", 1)[1]
    qr, steps, notice = main.index('<img class="qr"'), main.index('class="steps"'), main.index("Your declaration was received")
    assert qr < notice and qr < steps
    assert main.index("Yellow code") < qr
    figure = re.search(r'<figure class="qr-figure">(.*?)</figure>', page, re.S).group(1)
    assert card in figure
    # Between the page title and the QR nothing but the card's band.
    assert "<h1" in main[:qr] and "alert" not in main[:qr] and "<section" in main[:qr]


# ------------------------------------------------------------ amendments ---

def _hidden(page: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', page).group(1)


def test_r15_amend_declaration_from_the_case_page_without_script(api, seeded, clock):
    from cases.models import Declaration

    case_id, token, _ = standard_case(api, seeded, clock)
    case = _page(api, case_id, token)
    link = re.search(r'href="([^"]+/amend\?access_token=[^"]+)"', case).group(1).replace("&amp;", "&")
    assert "Amend your declaration" in text_of(case)
    form = api.get(link)
    assert form.status_code == 200
    ex = example("standard", clock.now().date())
    # Prefilled with what was declared; the document number is typed again (it proves the person).
    assert f'value="{ex["name"]}"' in form.text and f'value="{ex["phone"]}"' in form.text and 'name="id_number" value=""' in form.text
    assert "Save the amended declaration" in text_of(form.text)
    data = form_of(ex) | {"phone": "13905320099", "form_token": _hidden(form.text, "form_token")}

    # Someone else's document number: refused on the field, nothing stored.
    wrong = api.post(link, data=data | {"id_number": "11010519491231002X"}, follow_redirects=False)
    assert wrong.status_code == 422 and 'id="err-id_number"' in wrong.text and "only they can amend" in text_of(wrong.text)
    # Without the form's token (a form posted from elsewhere): refused.
    assert api.post(link, data=data | {"form_token": "x"}, follow_redirects=False).status_code == 403

    r = api.post(link, data=data, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("&done=amended")
    page = text_of(api.get(r.headers["location"]).text)
    assert "Your amended declaration was saved as a new signed version and compared again (R15)." in page
    assert "You amended the declaration (a new signed version, R15)" in page and "The amended declaration was compared again" in page
    with seeded.session() as s:
        versions = s.exec(select(Declaration).where(Declaration.application_id == case_id).order_by(Declaration.version)).all()
        assert [v.version for v in versions] == [1, 2] and versions[1].content["phone"] == "13905320099"
        assert versions[0].content["phone"] == ex["phone"]  # the earlier statement is kept


def test_r15_decided_case_says_the_declaration_can_no_longer_be_amended(api, seeded, clock):
    from cases.models import Declaration

    case_id, token, task_id = standard_case(api, seeded, clock)
    link = f"/cases/{case_id}/amend?access_token={token}"
    form_token = _hidden(api.get(link).text, "form_token")
    _decide(seeded, clock, case_id, task_id, "approve")
    assert "the declaration can no longer be amended" in text_of(_page(api, case_id, token))
    closed = api.get(link)
    assert closed.status_code == 409 and "This case has been decided: its declaration can no longer be amended." in text_of(closed.text)
    assert "<form" not in closed.text.split("<main", 1)[1]
    data = form_of(example("standard", clock.now().date())) | {"phone": "13905320099", "form_token": form_token}
    late = api.post(link, data=data, follow_redirects=False)
    assert late.status_code == 409 and "can no longer be amended" in text_of(late.text)
    with seeded.session() as s:
        assert len(s.exec(select(Declaration).where(Declaration.application_id == case_id)).all()) == 1


# ------------------------------------------------------- places by name ---

def test_r6_residence_places_and_community_are_picked_by_name(api, seeded, clock):
    from cases.models import Declaration

    form = api.get("/apply?kind=arrival").text
    assert '<datalist id="places">' in form and 'list="places"' in form and "<script" not in form.split("<main", 1)[1].split("</main>")[0]
    assert '<option value="湖北省 武汉市" label="湖北省 · 420100">' in form and '<option value="United Kingdom"' in form
    assert '<option value="济南市 历下区 Lixia District"' in form
    # The community is a list of names grouped by city and county, never a code to type.
    assert re.search(r'<optgroup label="青岛市市南区[^"]*">', form) and "和平社区 Heping Community" in form

    data = form_of(example("arrival", clock.now().date())) | {"stay_place_0": "United Kingdom", "stay_place_1": "北京市"}
    r = apply(api, data)
    assert r.status_code == 303, text_of(r.text)
    case_id = r.headers["location"].split("/cases/")[1].split("?")[0]
    token = re.search(r"access_token=([0-9a-f]+)", r.headers["location"]).group(1)
    with seeded.session() as s:
        declared = s.exec(select(Declaration).where(Declaration.application_id == case_id)).one().content
    assert [stay["place"] for stay in declared["residence_history"]] == ["GBR", "110000"]  # codes for the comparison
    # Amending shows the names again, not the codes.
    amend = api.get(f"/cases/{case_id}/amend", params={"access_token": token}).text
    assert 'id="stay_place_0" name="stay_place_0" value="United Kingdom"' in amend and 'value="北京市"' in amend


def test_r6_unknown_place_name_is_a_field_error_and_nothing_is_stored(api, seeded, clock):
    data = form_of(example("arrival", clock.now().date())) | {"stay_place_1": "Atlantis"}
    r = apply(api, data)
    assert r.status_code == 422
    assert 'id="err-stay_1"' in r.text and "Unknown place “Atlantis”: choose it from the list" in text_of(r.text)
    assert 'value="Atlantis"' in r.text and "Stay 2" in text_of(r.text)
    with seeded.session() as s:
        assert s.exec(select(Application)).first() is None


def test_r20_complaint_button_on_an_open_case_opens_the_prefilled_form(api, seeded, clock):
    case_id, token, _ = standard_case(api, seeded, clock)
    page = _page(api, case_id, token)
    with seeded.session() as s:
        app = s.get(Application, case_id)
        reference, community = app.reference, app.community_code
    button = re.search(r'<a class="button secondary" href="(/complaints/new\?[^"]+)">(.*?)</a>', page)
    assert button and "Complain about this case" in text_of(button.group(2))
    form = api.get(button.group(1).replace("&amp;", "&")).text
    assert f'value="{reference}"' in form and re.search(rf'value="{community}"\s+selected', form)
    assert "No pass yet" in text_of(page) and "Your application was rejected" not in text_of(page)


def test_r2_api_case_view_names_the_revoked_pass_and_the_rejection(api, seeded, clock):
    case_id, token, task_id = standard_case(api, seeded, clock)
    _decide(seeded, clock, case_id, task_id, "reject", reason_code="false_declaration", explanation="Roaming records show a week in Wuhan that the declaration omits.")
    view = api.get(f"/api/v1/applications/{case_id}", headers={"X-Access-Token": token}).json()
    assert view["rejection"]["reason_code"] == "false_declaration" and "Wuhan" in view["rejection"]["explanation"]
    assert view["pass"] is None and view["revoked_pass"] is None  # never issued: nothing was revoked


def test_r9_arrival_with_missed_days_goes_to_audit_and_a_rejection_revokes_the_yellow_code(api, seeded, clock):
    from cases.services import observation

    r = apply(api, form_of(example("arrival", clock.now().date())))
    case_id = r.headers["location"].split("/cases/")[1].split("?")[0]
    token = re.search(r"access_token=([0-9a-f]+)", r.headers["location"]).group(1)
    with seeded.session() as s:
        app = s.get(Application, case_id)
        workflow.declare(session=s, application=app, at=clock.now())
        workflow.compare(session=s, application=app, at=clock.now(), settings=seeded.settings, accept_incomplete=True)
        workflow.open_observation(session=s, application=app, at=clock.now(), settings=seeded.settings)
        s.commit()
    clock.advance(timedelta(days=15))  # no report at all: the period ends with missing days
    with seeded.session() as s:
        app = s.get(Application, case_id)
        observation.end_observation(session=s, application=app, at=clock.now(), settings=seeded.settings)
        task_id = workflow.assign_audit(session=s, application=app, at=clock.now(), settings=seeded.settings)["task_id"]
        s.commit()
    steps = _steps(_page(api, case_id, token))
    assert [(state, label.split(" ")[0]) for state, label in steps] == [
        ("done", "Declaration"), ("done", "Yellow"), ("done", "Big-data"), ("done", "Daily"), ("current", "Community/unit"), ("todo", "Green")]

    _decide(seeded, clock, case_id, task_id, "reject", issuer="heping-issuer", reason_code="identity_not_established", explanation="No answer at the isolation address for two weeks.")
    page = _page(api, case_id, token)
    top = text_of(page.split('class="steps"')[0])
    assert "Your application was rejected" in top and "Your earlier pass was revoked with the rejection" in top
    assert "No pass was issued" not in top and "band-yellow" not in page
    assert [state for state, _ in _steps(page)][-2:] == ["failed", "failed"]


def test_r6_community_posted_by_name_is_mapped_to_its_code_or_named_unknown(api, seeded, clock):
    data = form_of(example("arrival", clock.now().date()))
    unknown = apply(api, data | {"community_code": "Nowhere Community"})
    assert unknown.status_code == 422 and 'id="err-community_code"' in unknown.text
    assert "Unknown community “Nowhere Community”: choose it from the list." in text_of(unknown.text)
    # Five villages are called 和平社区: the name alone is not one place, with its county it is.
    assert apply(api, data | {"community_code": "和平社区"}).status_code == 422
    r = apply(api, data | {"community_code": "历下区 和平社区"})
    assert r.status_code == 303
    with seeded.session() as s:
        assert s.exec(select(Application.community_code)).one() == "370102001001"
