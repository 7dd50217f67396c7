"""Who may read a case: the applicant (access token) or staff whose scope covers it."""
from __future__ import annotations

from sqlalchemy.orm import object_session
from sqlmodel import Session

from cases.errors import NotFound
from cases.models import Application, User
from cases.scope import scope_for
from cases.services.applications import get_application, token_matches
from cases.settings import Settings


def can_read(user: User | None, app: Application, *, session: Session | None = None) -> bool:
    """Staff whose scope (cases.scope, from the region tree) covers the case."""
    if user is None:
        return False
    session = session or object_session(app)
    return session is not None and scope_for(session, user).covers_case(app)


def load_case_for_reader(session: Session, case_id: str, *, user: User | None, token: str | None, settings: Settings) -> Application:
    """404 for anyone who may not read it, so existence is not revealed."""
    try:
        app = get_application(session, case_id)
    except NotFound:
        raise NotFound("application not found")
    if token and token_matches(app, token, settings=settings):
        return app
    if can_read(user, app, session=session):
        return app
    raise NotFound("application not found")
