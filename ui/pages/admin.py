"""Admin pages: accounts (create, disable/enable, reset a password), the working calendar
(coverage, import a year, one day's change) and the pass signing keys (list, rotate).
Every change goes through a service in cases/ that writes the administration log."""
from __future__ import annotations

from datetime import date, timedelta

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from cases.admin import keys as key_service
from cases.admin.log import recent_events
from cases.clock import SHANGHAI
from cases.errors import DomainError
from cases.models import Role
from cases.services import calendar_service
from cases.services import users as user_service
from cases.services.passes import keystore
from ui.pages.common import redirect
from ui.pages.session import FormDep, Page, PageDep

router = APIRouter(include_in_schema=False)
ROLES = [r.value for r in Role if r != Role.applicant]
USER_FIELDS = ("username", "full_name", "role", "region", "unit")
USER_ACTIONS = ("user_created", "user_disabled", "user_enabled", "password_reset")


def _users(p: Page, *, errors: dict[str, str] | None = None, values: dict[str, str] | None = None, status: int = 200, temporary: tuple[str, str] | None = None) -> HTMLResponse:
    p.staff(Role.admin)
    asked = p.request.query_params.get("role")
    role = Role(asked) if asked in ROLES else None
    return p.render("admin_users.html", status=status, users=user_service.list_users(session=p.session, role=role), roles=ROLES, errors=errors or {},
                    role_filter=role.value if role else "",
                    values=values or {}, temporary=temporary, done=p.request.query_params.get("done"),
                    events=recent_events(p.session, actions=USER_ACTIONS, limit=20))


@router.get("/admin", response_class=HTMLResponse)
def admin_home(p: PageDep) -> Response:
    p.staff(Role.admin)
    return redirect("/admin/users")


@router.get("/admin/users", response_class=HTMLResponse)
def admin_users(p: PageDep) -> HTMLResponse:
    return _users(p)


@router.post("/admin/users")
def admin_create_user(p: PageDep, form: FormDep) -> Response:
    admin = p.staff(Role.admin, form=form)
    values = {k: str(form.get(k) or "") for k in USER_FIELDS}
    try:
        user_service.create_account(session=p.session, by=admin, username=values["username"], password=str(form.get("password") or ""), role=values["role"],
                                    full_name=values["full_name"], region=values["region"], unit=values["unit"], at=p.now)
    except DomainError as exc:
        p.session.rollback()
        return _users(p, errors={exc.field or "username": exc.message}, values=values, status=exc.status_code)
    p.session.commit()
    return redirect("/admin/users?done=created")


def _row_error(p: Page, exc: DomainError) -> HTMLResponse:
    p.session.rollback()
    return _users(p, errors={"user": exc.message}, status=exc.status_code)


@router.post("/admin/users/{user_id}/disable")
def admin_disable(user_id: str, p: PageDep, form: FormDep) -> Response:
    admin = p.staff(Role.admin, form=form)
    try:
        user_service.set_active(session=p.session, by=admin, user_id=user_id[:64], active=False, at=p.now)
    except DomainError as exc:
        return _row_error(p, exc)
    p.session.commit()
    return redirect("/admin/users?done=disabled")


@router.post("/admin/users/{user_id}/enable")
def admin_enable(user_id: str, p: PageDep, form: FormDep) -> Response:
    admin = p.staff(Role.admin, form=form)
    try:
        user_service.set_active(session=p.session, by=admin, user_id=user_id[:64], active=True, at=p.now)
    except DomainError as exc:
        return _row_error(p, exc)
    p.session.commit()
    return redirect("/admin/users?done=enabled")


@router.post("/admin/users/{user_id}/password", response_class=HTMLResponse)
def admin_reset_password(user_id: str, p: PageDep, form: FormDep) -> Response:
    admin = p.staff(Role.admin, form=form)
    try:
        user, temporary = user_service.reset_password(session=p.session, by=admin, user_id=user_id[:64], at=p.now, new_password=str(form.get("new_password") or "") or None)
    except DomainError as exc:
        return _row_error(p, exc)
    p.session.commit()
    if temporary is None:
        return redirect("/admin/users?done=password")
    # The temporary password is shown in this answer only (never in a URL, never stored in clear).
    return _users(p, temporary=(user.username, temporary))


# ------------------------------------------------------------------ calendar ---

def _calendar(p: Page, *, errors: dict[str, str] | None = None, values: dict[str, str] | None = None, status: int = 200, recomputed: int | None = None) -> HTMLResponse:
    p.staff(Role.admin)
    years, missing = calendar_service.coverage(session=p.session, settings=p.settings, now=p.now)
    q = p.request.query_params
    this_year = p.now.astimezone(SHANGHAI).year
    shown = int(q["year"]) if q.get("year", "").isdigit() and this_year - 5 <= int(q["year"]) <= this_year + 5 else this_year
    return p.render("admin_calendar.html", status=status, years=years, missing=missing, errors=errors or {}, values=values or {}, shown_year=shown,
                    overrides=calendar_service.overrides(session=p.session, year=shown), done=q.get("done"), recomputed=q.get("recomputed") if recomputed is None else recomputed,
                    events=recent_events(p.session, actions=("calendar_imported", "calendar_day_set"), limit=20))


@router.get("/admin/calendar", response_class=HTMLResponse)
def admin_calendar(p: PageDep) -> HTMLResponse:
    return _calendar(p)


@router.post("/admin/calendar/import")
def admin_calendar_import(p: PageDep, form: FormDep) -> Response:
    admin = p.staff(Role.admin, form=form)
    upload = form.get("file")
    raw = upload.file.read(calendar_service.MAX_SCHEDULE_BYTES + 1) if hasattr(upload, "file") else b""
    name = (getattr(upload, "filename", None) or "upload")[:100]
    try:
        result = calendar_service.import_file(session=p.session, raw=raw, source_name=name, by=admin.username, at=p.now, settings=p.settings)
    except DomainError as exc:
        p.session.rollback()
        return _calendar(p, errors={exc.field or "file": exc.message}, status=exc.status_code)
    p.session.commit()
    return redirect(f"/admin/calendar?done=imported&year={result.year}&recomputed={len(result.recomputed)}")


@router.post("/admin/calendar/day")
def admin_calendar_day(p: PageDep, form: FormDep) -> Response:
    admin = p.staff(Role.admin, form=form)
    values = {k: str(form.get(k) or "") for k in ("day", "kind", "note")}
    errors = {}
    try:
        day = date.fromisoformat(values["day"])
    except ValueError:
        errors["day"] = "day: a date, YYYY-MM-DD"
    if values["kind"] not in ("workday", "holiday"):
        errors["kind"] = "kind: working day or holiday"
    if errors:
        return _calendar(p, errors=errors, values=values, status=422)
    try:
        recomputed = calendar_service.set_day(session=p.session, day=day, working=values["kind"] == "workday", note=values["note"], by=admin.username, at=p.now, settings=p.settings)
    except DomainError as exc:
        p.session.rollback()
        return _calendar(p, errors={exc.field or "note": exc.message}, values=values, status=exc.status_code)
    p.session.commit()
    return redirect(f"/admin/calendar?done=day&year={day.year}&recomputed={len(recomputed)}")


# ---------------------------------------------------------------------- keys ---

@router.get("/admin/keys", response_class=HTMLResponse)
def admin_keys(p: PageDep) -> HTMLResponse:
    p.staff(Role.admin)
    store = keystore(str(p.settings.keys_dir))
    store.ensure_active(now=p.now)
    rows = key_service.key_rows(store=store, now=p.now, validity=timedelta(days=p.settings.pass_validity_days))
    return p.render("admin_keys.html", keys=rows, done=p.request.query_params.get("done"), validity=p.settings.pass_validity_days,
                    events=recent_events(p.session, actions=("key_rotated",), limit=20))


@router.post("/admin/keys/rotate")
def admin_keys_rotate(p: PageDep, form: FormDep) -> Response:
    admin = p.staff(Role.admin, form=form)
    key_service.rotate(session=p.session, store=keystore(str(p.settings.keys_dir)), by=admin.username, at=p.now)
    p.session.commit()
    return redirect("/admin/keys?done=rotated")
