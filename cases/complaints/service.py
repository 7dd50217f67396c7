"""Complaints (R20): intake from the public form/API and the hotline, a response deadline on
the working calendar, an item in the provincial audit queue, closing with a response the
complainant reads with the complaint's reference and access token.

The complainant's contact is stored but never shown unmasked: every read model here carries
only `mask_name`/`mask_phone` of it. Who handles complaints: the provincial office (auditor),
hotline operators and admins see all; a supervisor sees and closes those about regions inside
their scope (cases/scope.py)."""
from __future__ import annotations

import csv
import hashlib
import hmac
import io
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import false
from sqlmodel import Session, func, select

from cases.codes.claims import mask_name
from cases.complaints.models import CATEGORIES, Complaint, ComplaintEvent
from cases.errors import Conflict, Forbidden, Invalid, NotFound
from cases.models import Application, ProvincialAuditItem, Region, RegionLevel, Role, User
from cases.scope import scope_for
from cases.settings import Settings
from cases.validation import mask_phone

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CATEGORY_WORDS = {
    "refused": "Refused to handle / 拒绝办理",
    "delayed": "Delayed / 拖延推诿",
    "extra_conditions": "Extra conditions demanded / 附加条件 (R16)",
    "rude": "Rude / 态度恶劣",
    "other": "Other / 其他",
}
HANDLERS = (Role.auditor, Role.hotline, Role.admin, Role.supervisor)


class ComplaintView(BaseModel):
    """What anybody allowed to read a complaint sees; the contact is masked."""

    reference: str
    status: str
    channel: str
    category: str
    region_code: str
    region_name: str
    county_code: str
    case_reference: str | None = None
    contact_name: str | None = None  # masked
    contact_phone: str | None = None  # masked
    description: str
    created_at: datetime
    due_at: datetime
    overdue: bool
    response: str | None = None
    responded_at: datetime | None = None


class StaffComplaintView(ComplaintView):
    recorded_by: str | None = None
    responded_by: str | None = None
    audit_item_id: int | None = None


class ComplaintPage(BaseModel):
    total: int
    page: int
    page_size: int
    items: list[StaffComplaintView]


@dataclass
class Received:
    complaint: Complaint
    access_token: str


def access_token_for(complaint_id: str, *, settings: Settings) -> str:
    return hmac.new(settings.secret("complaint"), complaint_id.encode(), hashlib.sha256).hexdigest()[:40]


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(complaint: Complaint, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(complaint.token_hash, _hash(token))


def _reference(session: Session, at: datetime) -> str:
    while True:
        bits = secrets.randbits(40)
        code = "".join(_CROCKFORD[(bits >> shift) & 31] for shift in range(35, -1, -5))
        reference = f"CP{at:%Y%m%d}-{code[:4]}-{code[4:]}"
        if session.exec(select(Complaint.id).where(Complaint.reference == reference)).first() is None:
            return reference


def response_due(*, session: Session, settings: Settings, at: datetime) -> datetime:
    """`complaint_response_working_days` full working days of working time after `at`, on
    the working calendar (weekends, holidays and adjusted workdays included)."""
    from cases.services.sla_service import calendar

    cal = calendar(session, settings)
    return cal.add_working_time(at, timedelta(seconds=cal.hours.day_length.total_seconds() * settings.complaint_response_working_days))


def _text(value: str | None, field: str, *, limit: int, required: bool = False, minimum: int = 0) -> str | None:
    text = (value or "").strip()
    if not text:
        if required:
            raise Invalid(f"{field}: required", field=field)
        return None
    if len(text) > limit:
        raise Invalid(f"{field}: at most {limit} characters", field=field)
    if len(text) < minimum:
        raise Invalid(f"{field}: at least {minimum} characters", field=field)
    if any(ord(ch) < 32 and ch not in "\n\r\t" for ch in text):
        raise Invalid(f"{field}: control characters are not allowed", field=field)
    return text


def receive(
    *,
    session: Session,
    settings: Settings,
    at: datetime,
    category: str,
    region_code: str | None,
    description: str,
    case_reference: str | None = None,
    contact_name: str | None = None,
    contact_phone: str | None = None,
    operator: User | None = None,
) -> Received:
    """Record a complaint (online when `operator` is None, else taken by a hotline operator),
    schedule its response deadline and put it in the provincial audit queue."""
    if operator is not None and operator.role != Role.hotline:
        raise Forbidden("only hotline operators record complaints for callers", field="role")
    if category not in CATEGORIES:
        raise Invalid(f"category: one of {', '.join(CATEGORIES)}", field="category")
    description = _text(description, "description", limit=4000, required=True, minimum=10)
    contact_name = _text(contact_name, "contact_name", limit=100)
    phone = _text(contact_phone, "contact_phone", limit=32)
    if phone is not None and not all(ch.isdigit() or ch in "+- " for ch in phone):
        raise Invalid("contact_phone: digits, '+', '-' and spaces only", field="contact_phone")
    application = None
    ref = _text(case_reference, "case_reference", limit=32)
    if ref is not None:
        application = session.exec(select(Application).where(Application.reference == ref.upper())).first()
        if application is None:
            raise Invalid("case_reference: no case with this reference (it looks like HP20260303-ABCD-EFGH)", field="case_reference")
    if not region_code:
        if application is None:
            raise Invalid("region_code: name the county or community (or give the case reference)", field="region_code")
        region_code = application.community_code
    region = session.get(Region, region_code)
    if region is None or region.level not in (RegionLevel.county, RegionLevel.community):
        raise Invalid(f"region_code: {region_code} is not a county or community code", field="region_code")
    county = region.code if region.level == RegionLevel.county else region.parent_code
    complaint = Complaint(
        reference=_reference(session, at), token_hash="", channel="hotline" if operator else "online", category=category,
        region_code=region.code, county_code=county, application_id=application.id if application else None,
        contact_name=contact_name, contact_phone=phone, description=description, created_at=at,
        due_at=response_due(session=session, settings=settings, at=at), recorded_by=operator.username if operator else None,
    )
    token = access_token_for(complaint.id, settings=settings)
    complaint.token_hash = _hash(token)
    session.add(complaint)
    # R21: every complaint is an item of the provincial audit queue; the summary carries no contact.
    item = ProvincialAuditItem(
        kind="complaint", application_id=complaint.application_id, region_code=region.code, created_at=at,
        summary=f"Complaint {complaint.reference} ({category}) about {region.name_en} {region.name_zh}: {description[:200]}",
    )
    session.add(item)
    session.flush()
    complaint.audit_item_id = item.id
    session.add(ComplaintEvent(complaint_id=complaint.id, at=at, actor=operator.username if operator else "public", action="received",
                               data={"channel": complaint.channel, "category": category, "due_at": complaint.due_at.isoformat()}))
    session.flush()
    return Received(complaint, token)


def _scope_filter(session: Session, user: User):
    if user.role in (Role.auditor, Role.hotline, Role.admin):
        return None
    if user.role != Role.supervisor:
        raise Forbidden("complaints are handled by the provincial office, the hotline and supervisors", field="role")
    scope = scope_for(session, user)
    if scope.everything:
        return None
    codes = scope.region_codes() or set()
    return Complaint.region_code.in_(sorted(codes)) if codes else false()


def may_handle(session: Session, user: User | None, complaint: Complaint) -> bool:
    if user is None or user.role not in HANDLERS:
        return False
    if user.role != Role.supervisor:
        return True
    return scope_for(session, user).covers_region(complaint.region_code)


def _view(session: Session, c: Complaint, now: datetime, cls=ComplaintView):
    region = session.get(Region, c.region_code)
    case_ref = session.exec(select(Application.reference).where(Application.id == c.application_id)).first() if c.application_id else None
    data = dict(
        reference=c.reference, status=c.status, channel=c.channel, category=c.category, region_code=c.region_code,
        region_name=f"{region.name_zh} {region.name_en}" if region else c.region_code, county_code=c.county_code,
        case_reference=case_ref, contact_name=mask_name(c.contact_name) if c.contact_name else None,
        contact_phone=mask_phone(c.contact_phone) if c.contact_phone else None, description=c.description,
        created_at=c.created_at, due_at=c.due_at, overdue=c.status == "open" and now > c.due_at,
        response=c.response, responded_at=c.responded_at,
    )
    if cls is StaffComplaintView:
        data.update(recorded_by=c.recorded_by, responded_by=c.responded_by, audit_item_id=c.audit_item_id)
    return cls(**data)


def _get(session: Session, reference: str) -> Complaint:
    c = session.exec(select(Complaint).where(Complaint.reference == reference.strip().upper())).first()
    if c is None:
        raise NotFound(f"no complaint {reference}", field="reference")
    return c


def public_view(*, session: Session, reference: str, token: str | None, now: datetime) -> ComplaintView:
    """The complainant's view: needs the access token given at intake (404 otherwise, so
    references cannot be probed)."""
    c = session.exec(select(Complaint).where(Complaint.reference == reference.strip().upper())).first()
    if c is None or not token_matches(c, token):
        raise NotFound(f"no complaint {reference} with this access token", field="reference")
    return _view(session, c, now)


def staff_view(*, session: Session, user: User, reference: str, now: datetime) -> StaffComplaintView:
    c = _get(session, reference)
    if not may_handle(session, user, c):
        raise NotFound(f"no complaint {reference}", field="reference")  # outside the area: not revealed
    return _view(session, c, now, StaffComplaintView)


def listing(*, session: Session, user: User, now: datetime, status: str | None = None, category: str | None = None,
            region: str | None = None, page: int = 1, page_size: int = 50) -> ComplaintPage:
    where = []
    scoped = _scope_filter(session, user)
    if scoped is not None:
        where.append(scoped)
    if status is not None:
        if status not in ("open", "closed", "overdue"):
            raise Invalid("status: open, closed or overdue", field="status")
        where.append(Complaint.status == ("closed" if status == "closed" else "open"))
        if status == "overdue":
            where.append(Complaint.due_at < now)
    if category is not None:
        if category not in CATEGORIES:
            raise Invalid(f"category: one of {', '.join(CATEGORIES)}", field="category")
        where.append(Complaint.category == category)
    if region is not None:
        narrowed = scope_for(session, user).within(region, field="region") if user.role == Role.supervisor else None
        from cases.scope import descendants

        if narrowed is None and session.get(Region, region) is None:
            raise Invalid(f"region: unknown region {region}", field="region")
        where.append(Complaint.region_code.in_(sorted(descendants(session, [region]))))
    total = session.exec(select(func.count()).select_from(Complaint).where(*where)).one()
    rows = session.exec(select(Complaint).where(*where).order_by(Complaint.created_at.desc(), Complaint.reference).offset((page - 1) * page_size).limit(page_size)).all()
    return ComplaintPage(total=total, page=page, page_size=page_size, items=[_view(session, c, now, StaffComplaintView) for c in rows])


def close(*, session: Session, user: User, reference: str, response: str, at: datetime) -> StaffComplaintView:
    """Close with a response the complainant reads on the status page; evented."""
    c = _get(session, reference)
    if not may_handle(session, user, c):
        raise NotFound(f"no complaint {reference}", field="reference")
    text = _text(response, "response", limit=4000, required=True, minimum=10)
    if c.status == "closed":
        raise Conflict(f"complaint {c.reference} was closed on {c.responded_at:%Y-%m-%d %H:%M} by {c.responded_by}", field="reference")
    c.status, c.response, c.responded_at, c.responded_by = "closed", text, at, user.username
    session.add(c)
    session.add(ComplaintEvent(complaint_id=c.id, at=at, actor=user.username, action="closed", data={"late": at > c.due_at}))
    session.flush()
    return _view(session, c, at, StaffComplaintView)


CSV_COLUMNS = ("reference", "status", "channel", "category", "region_code", "region_name", "case_reference", "contact_name",
               "contact_phone", "created_at", "due_at", "overdue", "responded_at", "responded_by", "recorded_by", "description", "response")


def csv_safe(value) -> str:
    """No spreadsheet formulas from what the public typed (CSV injection)."""
    text = "" if value is None else (value.isoformat() if isinstance(value, datetime) else str(value))
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(page: ComplaintPage) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    for item in page.items:
        row = item.model_dump()
        w.writerow([csv_safe(row[k]) for k in CSV_COLUMNS])
    return buf.getvalue()


