"""Applying: the declaration form, its parsing and validation messages, and submission."""
from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlmodel import Session, select
from starlette.datastructures import FormData

from cases.clock import SHANGHAI
from cases.errors import DomainError
from cases.models import Region, RegionLevel, Role, Unit
from cases.places import community_code, place_code, place_groups, place_name
from cases.messages import Msg
from ui.i18n import N_, _, localize
from ui.pages.common import _number, _value, redirect
from ui.pages.session import FormDep, Page, PageDep
from ui.pages.words import CHANNEL_WORDS, ID_TYPES, SYMPTOM_WORDS

router = APIRouter(include_in_schema=False)


FORM_TEXT_FIELDS = ("kind", "channel", "name", "id_type", "id_number", "phone", "nationality", "address", "community_code",
                    "unit_code", "had_contact", "contact_details", "temperature", "arrival_date", "arrival_port", "form_id")
MIN_ROWS = 4
MAX_ROWS = 20


def _communities(session: Session) -> list[dict[str, Any]]:
    """Communities grouped by city and county, for the <select>."""
    regions = {r.code: r for r in session.exec(select(Region))}
    groups: dict[str, dict[str, Any]] = {}
    for r in sorted(regions.values(), key=lambda r: r.code):
        if r.level != RegionLevel.community:
            continue
        county = regions.get(r.parent_code)
        city = regions.get(county.parent_code) if county else None
        label = f"{city.name_zh if city else ''}{county.name_zh if county else ''} {city.name_en if city else ''} · {county.name_en if county else ''}"
        groups.setdefault(label, {"label": label, "options": []})["options"].append({"code": r.code, "label": f"{r.name_zh} {r.name_en}"})
    return list(groups.values())


def _units(session: Session) -> list[Unit]:
    return list(session.exec(select(Unit).order_by(Unit.code)))


def _blank_values(p: Page, kind: str) -> dict[str, Any]:
    channel = {Role.unit: "unit", Role.issuer: "counter"}.get(p.user.role, "wechat") if p.user else "wechat"
    return {"kind": kind, "channel": channel, "id_type": "resident_id", "nationality": "CHN", "had_contact": "no",
            "symptoms": [], "pledge": False, "needs_verification": False, "stays": [], "form_id": secrets.token_urlsafe(16)}


def _example_values(kind: str, today) -> dict[str, Any]:
    from cases.declaration_schema import make_examples

    ex = make_examples(today)[kind]["value"]
    return {
        **{k: ex.get(k) or "" for k in ("kind", "channel", "name", "id_type", "id_number", "phone", "nationality", "address", "community_code", "unit_code", "arrival_date", "arrival_port")},
        "had_contact": "yes" if ex["close_contact"]["had_contact"] else "no",
        "contact_details": ex["close_contact"]["details"] or "",
        "symptoms": list(ex["health"]["symptoms"]),
        "temperature": str(ex["health"]["temperature"]),
        "pledge": bool(ex.get("pledge_self_isolation")),
        "needs_verification": False,
        "stays": [{"place": place_name(s["place"]), "from_date": s["from_date"], "to_date": s["to_date"]} for s in ex["residence_history"]],
        "form_id": secrets.token_urlsafe(16),
    }


def _form_values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {k: str(form.get(k) or "").strip() for k in FORM_TEXT_FIELDS}
    values["symptoms"] = [str(s) for s in form.getlist("symptoms")]
    values["pledge"] = form.get("pledge") == "yes"
    values["needs_verification"] = form.get("needs_verification") == "yes"
    stays = []
    for i in range(MAX_ROWS):
        row = {k: str(form.get(f"stay_{k}_{i}") or "").strip() for k in ("place", "from_date", "to_date")}
        stays.append(row)
    while stays and not any(stays[-1].values()):
        stays.pop()
    values["stays"] = stays
    return values



def _unknown_places(values: dict[str, Any]) -> dict[str, str]:
    """A place that is neither a code nor a name of the list: named on its row, never guessed.
    A community given by name gets its code here (or an error on the field)."""
    errors = {}
    if values["community_code"]:
        code = community_code(values["community_code"])
        if code is None:
            errors["community_code"] = _("Unknown community \u201c{code}\u201d: choose it from the list.").format(code=values["community_code"])
        else:
            values["community_code"] = code
    return errors | {
        f"stay_{i}": _("Unknown place \u201c{place}\u201d: choose it from the list (a city, county, province or country).").format(place=s["place"])
        for i, s in enumerate(values["stays"]) if s["place"] and place_code(s["place"]) is None
    }


def _content(values: dict[str, Any]) -> tuple[dict[str, Any], list[int]]:
    """The declaration as JSON (kept as the signed statement, R15) and, per declared stay, its form row."""
    rows = [i for i, s in enumerate(values["stays"]) if any(s.values())]
    arrival = values["kind"] == "arrival"
    content = {
        "kind": values["kind"],
        "channel": values["channel"],
        "name": values["name"],
        "id_type": values["id_type"],
        "id_number": values["id_number"],
        "phone": values["phone"],
        "nationality": values["nationality"] or "CHN",
        "address": values["address"],
        "community_code": values["community_code"],
        "unit_code": values["unit_code"] or None,
        # Places are picked by name; the statement keeps their codes (R6, R14 comparison).
        "residence_history": [{"place": place_code(values["stays"][i]["place"]) or values["stays"][i]["place"] or None,
                               **{k: values["stays"][i][k] or None for k in ("from_date", "to_date")}} for i in rows],
        "close_contact": {"had_contact": {"yes": True, "no": False}.get(values["had_contact"]), "details": values["contact_details"] or None},
        "health": {"symptoms": values["symptoms"], "temperature": _number(values["temperature"])},
        "pledge_self_isolation": True if values["pledge"] else (False if arrival else None),
        "arrival_date": values["arrival_date"] or None,
        "arrival_port": values["arrival_port"] or None,
        "needs_verification": values["needs_verification"],
    }
    return content, rows


# Model-level messages name no field: attach them by what they talk about.
_MESSAGE_FIELDS = (("pledge", "pledge"), ("arrival_date", "arrival_date"), ("residence history", "stays"), ("needs_verification", "needs_verification"), ("nationality", "nationality"), ("had_contact", "contact_details"))
_TOP_FIELDS = {"pledge_self_isolation": "pledge", "residence_history": "stays"}


def _friendly(err: dict[str, Any]) -> str:
    kind = err.get("type", "")
    if kind in ("string_too_short", "missing") or (kind in ("float_type", "bool_type", "date_type", "string_type", "enum") and err.get("input") in (None, "")):
        return _("Required.")
    if kind == "float_parsing":
        return _("Enter a number, e.g. 36.5.")
    if kind.startswith("date_"):
        return _("Enter a date as YYYY-MM-DD.")
    if kind == "enum":
        return _("Choose one of the options.")
    if kind == "too_long":
        return _("Too many entries.")
    raised = (err.get("ctx") or {}).get("error")
    if isinstance(raised, ValueError) and raised.args and isinstance(raised.args[0], Msg):
        return localize(raised.args[0])  # a validator's message, in the reader's language
    return str(err.get("msg", "")).removeprefix("Value error, ")


def _field_errors(exc: ValidationError, rows: list[int]) -> dict[str, str]:
    errors: dict[str, str] = {}
    for err in exc.errors():
        loc = list(err.get("loc", ()))
        message = _friendly(err)
        key = "_form"
        if loc and loc[0] == "residence_history" and len(loc) >= 2 and isinstance(loc[1], int) and loc[1] < len(rows):
            key = f"stay_{rows[loc[1]]}"
        elif loc and loc[0] == "health" and len(loc) >= 2:
            key = str(loc[1])
        elif loc and loc[0] == "close_contact":
            key = "had_contact" if len(loc) >= 2 and loc[1] == "had_contact" else "contact_details"
        elif loc:
            key = _TOP_FIELDS.get(str(loc[0]), str(loc[0]))
        else:
            lowered = str(err.get("msg", "")).lower()  # the English says what it is about
            key = next((f for word, f in _MESSAGE_FIELDS if word.replace("_", " ") in lowered.replace("_", " ")), "_form")
        errors[key] = f"{errors[key]} {message}" if key in errors and message not in errors[key] else message
    return errors


FIELD_LABELS = {
    "kind": N_("Declaration type"), "channel": N_("Channel"), "name": N_("Full name"), "id_type": N_("Document type"),
    "id_number": N_("Document number"), "phone": N_("Mobile phone"), "nationality": N_("Nationality"),
    "address": N_("Address"), "community_code": N_("Community"), "unit_code": N_("Employer"),
    "stays": N_("Residence history"), "had_contact": N_("Close contact"), "contact_details": N_("Close-contact details"),
    "symptoms": N_("Symptoms"), "temperature": N_("Body temperature"), "arrival_date": N_("Date of arrival"),
    "arrival_port": N_("Port of arrival"), "pledge": N_("Pledge"), "needs_verification": N_("Needs verification"),
}


def _arrival_gaps(values: dict[str, Any]) -> list[tuple[str, str]]:
    """The schema checks an arrival's pledge, date and stays only once every field is valid;
    a form names them at the same time as the other errors, so one round trip fixes all."""
    if values["kind"] != "arrival":
        return []
    gaps = []
    if not values["pledge"]:
        gaps.append(("pledge", _("An arrival declaration requires the pledge to self-isolate (R6).")))
    if not values["arrival_date"]:
        gaps.append(("arrival_date", _("An arrival declaration requires the date of arrival (R6).")))
    if not any(any(s.values()) for s in values["stays"]):
        gaps.append(("stays", _("An arrival declaration requires the residence history of the last 14 days (R6).")))
    return gaps


def _error_label(key: str) -> str:
    if key.startswith("stay_"):
        n = int(key.removeprefix("stay_")) + 1
        return _("Stay {n}").format(n=n)
    return _(FIELD_LABELS[key]) if key in FIELD_LABELS else key


def _render_apply(p: Page, values: dict[str, Any], errors: dict[str, str] | None = None, status: int = 200, notice: str | None = None, amend: dict[str, Any] | None = None) -> HTMLResponse:
    from cases.declaration_schema import SYMPTOMS

    asked = p.request.query_params.get("rows", "")
    rows = min(MAX_ROWS, max(MIN_ROWS, len(values.get("stays", [])) + 1, int(asked) if asked.isdigit() else 0))
    stays = list(values.get("stays", [])) + [{"place": "", "from_date": "", "to_date": ""}] * rows
    labels = {key: _error_label(key) for key in (errors or {})}
    return p.render(
        "apply.html",
        status=status,
        v=values,
        stays=stays[:rows],
        errors=errors or {},
        error_labels=labels,
        notice=notice,
        communities=_communities(p.session),
        places=place_groups(),
        units=_units(p.session),
        symptoms=[(s, SYMPTOM_WORDS.get(s, (s, s))) for s in SYMPTOMS],
        channels=CHANNEL_WORDS,
        id_types=ID_TYPES,
        more_rows=min(MAX_ROWS, rows + 4),
        demo=p.settings.demo,
        today=p.now.astimezone(SHANGHAI).date().isoformat(),
        amend=amend,
    )


@router.get("/apply", response_class=HTMLResponse)
def apply_form(p: PageDep, kind: str = "arrival", example: str | None = None) -> HTMLResponse:
    kind = kind if kind in ("arrival", "standard") else "arrival"
    if example in ("arrival", "standard"):
        values = _example_values(example, p.now.astimezone(SHANGHAI).date())
    else:
        values = _blank_values(p, kind)
    return _render_apply(p, values)


@router.post("/apply", response_class=HTMLResponse)
def apply_submit(p: PageDep, form: FormDep) -> Response:
    from cases.declaration_schema import ApplicationCreate
    from cases.scope import scope_for
    from cases.services.applications import submit_application

    p.check_csrf(form)
    values = _form_values(form)
    unknown = _unknown_places(values)
    content, rows = _content(values)
    try:
        payload = ApplicationCreate.model_validate(content, context={"today": p.now})
    except ValidationError as exc:
        errors = _field_errors(exc, rows) | unknown
        for key, message in _arrival_gaps(values):
            errors.setdefault(key, message)
        return _render_apply(p, values, errors, status=422)
    if unknown:
        return _render_apply(p, values, unknown, status=422)
    submitted_by = p.user.id if p.user is not None and p.user.role in (Role.unit, Role.issuer) else "applicant"
    key = f"ui:{values['form_id']}" if values["form_id"] else None
    try:
        # A duplicate of someone's open case is answered only to staff whose area covers it (or
        # a replay of this very form); anyone else learns nothing about the case.
        reader = scope_for(p.session, p.user) if p.user is not None else None
        result = submit_application(session=p.session, payload=payload, content=content, settings=p.settings, at=p.now, idempotency_key=key, submitted_by=submitted_by, reader=reader)
        p.session.commit()
    except DomainError as exc:
        p.session.rollback()
        field = {"community_code": "community_code", "unit_code": "unit_code"}.get(exc.field or "", "_form")
        return _render_apply(p, values, {field: exc.message}, status=exc.status_code)
    app = result.application
    if result.access_token is None:
        # Staff whose area covers the person's open case: its number, not its applicant link.
        return _render_apply(p, values, status=409, notice=_("An application for this person is already open (case {reference}). Use the link you received when you applied, or ask your community.").format(reference=app.reference))
    return redirect(f"/cases/{app.id}?" + urlencode({"access_token": result.access_token, "new": "1" if result.created else "0"}))


# ------------------------------------------------------------ amendments ---
# R15: the applicant corrects their declaration from the case page (same form, prefilled); the
# service keeps it as a new signed version and compares it again. Closed once the case is decided.

def _values_from_content(content: dict[str, Any]) -> dict[str, Any]:
    """The form's values from a stored declaration (the inverse of `_content`). The document
    number is left empty: typing it again shows it is the same person, and it is not shown to
    whoever holds the link."""
    contact = content.get("close_contact") or {}
    health = content.get("health") or {}
    values: dict[str, Any] = {k: str(content.get(k) or "") for k in FORM_TEXT_FIELDS if k not in ("had_contact", "contact_details", "temperature", "form_id")}
    values.update(
        id_number="",
        had_contact="yes" if contact.get("had_contact") else "no",
        contact_details=contact.get("details") or "",
        symptoms=list(health.get("symptoms") or []),
        temperature="" if health.get("temperature") is None else str(health["temperature"]),
        pledge=bool(content.get("pledge_self_isolation")),
        needs_verification=bool(content.get("needs_verification")),
        stays=[{"place": place_name(str(s.get("place") or "")), **{k: str(s.get(k) or "") for k in ("from_date", "to_date")}} for s in content.get("residence_history") or []],
        form_id="",
    )
    return values


def _amend_context(p: Page, app, token: str, decided: bool) -> dict[str, Any]:
    from urllib.parse import quote

    from ui.pages.case import _case_url
    from ui.pages.session import applicant_form_token

    return {
        "reference": app.reference,
        "action": f"/cases/{quote(app.id, safe='')}/amend?" + urlencode({"access_token": token}),
        "form_token": applicant_form_token(app.id, token, "amend", p.settings),
        "case_url": _case_url(app, token),
        "community": next((o["label"] for g in _communities(p.session) for o in g["options"] if o["code"] == app.community_code), app.community_code),
        "decided": decided,
    }


def _amendable(app) -> bool:
    from cases.services.applications import AMENDABLE

    return app.status in AMENDABLE


@router.get("/cases/{case_id}/amend", response_class=HTMLResponse)
def amend_form(case_id: str, p: PageDep, access_token: str | None = None) -> HTMLResponse:
    from cases.services.applications import latest_declaration
    from ui.pages.applicant_forms import _applicant_case

    app, token = _applicant_case(p, case_id, access_token)
    if not _amendable(app):
        return _render_apply(p, _blank_values(p, _value(app.kind)), status=409, amend=_amend_context(p, app, token, decided=True))
    values = _values_from_content(latest_declaration(p.session, app.id).content)
    return _render_apply(p, values, amend=_amend_context(p, app, token, decided=False))


@router.post("/cases/{case_id}/amend", response_class=HTMLResponse)
def amend_submit(case_id: str, p: PageDep, form: FormDep, access_token: str | None = None) -> Response:
    from cases.declaration_schema import ApplicationCreate
    from cases.services.applications import amend_declaration, latest_declaration
    from ui.pages.applicant_forms import _applicant_case, _check_applicant_form

    app, token = _applicant_case(p, case_id, access_token)
    _check_applicant_form(p, form, app, token, "amend")
    values = _form_values(form)
    if not _amendable(app):
        return _render_apply(p, values, status=409, amend=_amend_context(p, app, token, decided=True))
    previous = latest_declaration(p.session, app.id).content
    # What an amendment cannot change is taken from the case, not from the form.
    values.update(kind=_value(app.kind), community_code=app.community_code, channel=previous.get("channel") or values["channel"])
    unknown = _unknown_places(values)
    content, rows = _content(values)
    context = _amend_context(p, app, token, decided=False)
    try:
        payload = ApplicationCreate.model_validate(content, context={"today": p.now})
    except ValidationError as exc:
        errors = _field_errors(exc, rows) | unknown
        for key, message in _arrival_gaps(values):
            errors.setdefault(key, message)
        return _render_apply(p, values, errors, status=422, amend=context)
    if unknown:
        return _render_apply(p, values, unknown, status=422, amend=context)
    try:
        amend_declaration(session=p.session, application=app, payload=payload, content=content, settings=p.settings, at=p.now)
        p.session.commit()
    except DomainError as exc:
        p.session.rollback()
        if exc.status_code == 409:
            return _render_apply(p, values, status=409, amend=_amend_context(p, app, token, decided=True))
        field = exc.field if exc.field in FIELD_LABELS else "_form"
        if field == "id_number":
            message = _("This is not the document number of the person who applied: only they can amend the declaration.")
        else:
            message = exc.message
        return _render_apply(p, values, {field: message}, status=exc.status_code, amend=context)
    return redirect(context["case_url"] + "&done=amended")
