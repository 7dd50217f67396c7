"""R18: every community has at least one registered issuer who signs in each working day."""
from __future__ import annotations

from datetime import datetime, time

from sqlmodel import Session, select

from cases.clock import SHANGHAI
from cases.models import IssuerSignIn, Notification, Region, RegionLevel, Role, User
from cases.scope import Scope
from cases.services import oversight
from cases.settings import Settings


def gaps(*, session: Session, at: datetime, scope: Scope | None = None) -> list[dict]:
    """Communities with no registered issuer, or none signed in today; only those inside
    `scope` (cases.scope, from the region tree) when given, else the whole province."""
    day = at.astimezone(SHANGHAI).date()
    if scope is None:
        communities = session.exec(select(Region).where(Region.level == RegionLevel.community).order_by(Region.code)).all()
    else:
        communities = scope.communities()
    issuers: dict[str, list[str]] = {}
    for user in session.exec(select(User).where(User.role == Role.issuer, User.active == True)):  # noqa: E712
        if user.region_code:
            issuers.setdefault(user.region_code, []).append(user.id)
    signed = set(session.exec(select(IssuerSignIn.user_id).where(IssuerSignIn.work_date == day)))
    out = []
    for c in communities:
        registered = issuers.get(c.code, [])
        if not registered:
            out.append({"community": c.code, "name": c.name_zh, "gap": "no_registered_issuer"})
        elif not signed.intersection(registered):
            out.append({"community": c.code, "name": c.name_zh, "gap": "no_issuer_signed_in", "registered": len(registered)})
    return out


def notify_gaps(*, session: Session, at: datetime, settings: Settings) -> int:
    """Once per community and day, after the morning sign-in window (10:00 on working days)."""
    from cases.services.sla_service import calendar

    local = at.astimezone(SHANGHAI)
    cal = calendar(session, settings)
    if not cal.is_workday(local.date()) or local.time() < time(10, 0):
        return 0
    start_of_day = datetime.combine(local.date(), time(0, 0), tzinfo=SHANGHAI)
    already = set(session.exec(select(Notification.recipient_code).where(Notification.kind == "roster_gap", Notification.created_at >= start_of_day)))
    made = 0
    for gap in gaps(session=session, at=at):
        if gap["community"] in already:
            continue
        county = session.get(Region, gap["community"]).parent_code  # its parent in the region tree
        what = "has no registered issuer" if gap["gap"] == "no_registered_issuer" else "has no issuer signed in today"
        for level, code in (("county", county), ("province", "370000")):
            session.add(Notification(recipient_level=level, recipient_code=code if level == "county" else "370000", kind="roster_gap", message=f"Community {gap['community']} ({gap['name']}) {what} (R18).", created_at=at))
        # marker addressed to the community itself so the check runs once a day
        session.add(Notification(recipient_level="community_head", recipient_code=gap["community"], kind="roster_gap", message=f"Your community {what} (R18).", created_at=at))
        # R21: the provincial audit queue, once per community and day.
        oversight.raise_item(
            session=session, kind="roster_gap", source_key=f"roster_gap:{gap['community']}:{local.date().isoformat()}", at=at,
            responsible_kind="community", responsible_code=gap["community"], summary=f"Community {gap['community']} ({gap['name']}) {what} on {local.date().isoformat()} (R18).",
        )
        made += 1
    return made


def sign_in(*, session: Session, user: User, at: datetime) -> IssuerSignIn:
    """R18: an issuer's sign-in for the working day (Asia/Shanghai); a second one that day
    changes nothing."""
    day = at.astimezone(SHANGHAI).date()
    row = session.exec(select(IssuerSignIn).where(IssuerSignIn.user_id == user.id, IssuerSignIn.work_date == day)).first()
    if row is None:
        row = IssuerSignIn(user_id=user.id, work_date=day, signed_in_at=at)
        session.add(row)
        session.commit()
    return row
