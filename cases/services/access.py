"""Who may read a case: the applicant (access token) or staff whose scope covers it."""
from __future__ import annotations

from sqlmodel import Session

from cases.errors import NotFound
from cases.models import Application, Role, User
from cases.services.applications import get_application, token_matches
from cases.settings import Settings


def can_read(user: User | None, app: Application) -> bool:
    if user is None:
        return False
    if user.role in (Role.auditor, Role.admin):
        return True
    if user.role == Role.issuer:
        return user.region_code == app.community_code or (user.unit_code is not None and user.unit_code == app.unit_code)
    if user.role == Role.unit:
        return user.unit_code is not None and user.unit_code == app.unit_code
    if user.role == Role.supervisor:
        return user.region_code in (app.community_code, app.county_code, app.city_code, "370000")
    return False


def load_case_for_reader(session: Session, case_id: str, *, user: User | None, token: str | None, settings: Settings) -> Application:
    """404 for anyone who may not read it, so existence is not revealed."""
    try:
        app = get_application(session, case_id)
    except NotFound:
        raise NotFound("application not found")
    if token and token_matches(app, token, settings=settings):
        return app
    if can_read(user, app):
        return app
    raise NotFound("application not found")
