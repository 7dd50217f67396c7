"""The directory's read model and its maintenance (R20).

Who edits: the supervisor of a county edits that county's entry and its communities' entries;
an admin edits any. Who reads the maintenance view (entries + change log): any supervisor, for
the counties inside their scope (a city supervisor sees its counties), and the provincial office.
The public directory itself needs no account. Every change is a DirectoryChange row (one per
field) in the same transaction, and the county's "last updated" is the latest of its entries."""
from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session, func, select

from cases.directory.models import DirectoryChange, DirectoryEntry
from cases.errors import Forbidden, Invalid, NotFound
from cases.models import Region, RegionLevel, Role, Unit, User
from cases.scope import scope_for

PHONE = re.compile(r"^[0-9][0-9\- ]{2,30}[0-9]$")
INFO_KEYS = ("name_zh", "name_en", "how_zh", "how_en")
COUNTY_FIELDS = ("complaint_phone", "service_account", "app")
COMMUNITY_FIELDS = ("address", "phone", "hours")


class Info(BaseModel):
    name_zh: str = ""
    name_en: str = ""
    how_zh: str = ""
    how_en: str = ""


class Named(BaseModel):
    code: str
    name_zh: str
    name_en: str


class CommunityEntry(Named):
    address: str | None = None
    phone: str | None = None
    hours: str | None = None
    updated_at: datetime | None = None


class UnitEntry(BaseModel):
    code: str
    name: str


class CountyEntry(BaseModel):
    county: Named
    city: Named
    complaint_phone: str | None = None
    service_account: Info | None = None
    app: Info | None = None
    communities: list[CommunityEntry] = []
    units: list[UnitEntry] = []
    last_updated: datetime | None = None
    last_updated_by: str | None = None


class Directory(BaseModel):
    service_account: Info
    app: Info
    counties: list[CountyEntry]


class Change(BaseModel):
    id: int
    region_code: str
    county_code: str
    field: str
    before: str | None
    after: str | None
    note: str | None
    actor: str
    at: datetime


class ChangePage(BaseModel):
    total: int
    page: int
    page_size: int
    items: list[Change]


def _named(r: Region) -> Named:
    return Named(code=r.code, name_zh=r.name_zh, name_en=r.name_en)


def _info(value: dict | None) -> Info | None:
    return Info(**{k: str(value.get(k) or "") for k in INFO_KEYS}) if value else None


def _county_of(session: Session, region: Region) -> str:
    return region.code if region.level == RegionLevel.county else region.parent_code


def seed_directory(session: Session, *, tree: dict, at: datetime) -> int:
    """One entry per county and community from regions.json (only where none exists: an
    edited entry is never overwritten by a re-seed)."""
    added = 0
    for city in tree["cities"]:
        for county in city["counties"]:
            if session.get(DirectoryEntry, county["code"]) is None:
                session.add(DirectoryEntry(
                    region_code=county["code"], county_code=county["code"], complaint_phone=county.get("complaint_phone"),
                    service_account=county.get("service_account") or tree["province"].get("service_account"),
                    app=county.get("app") or tree["province"].get("app"), updated_at=at, updated_by="seed",
                ))
                added += 1
            for community in county["communities"]:
                if session.get(DirectoryEntry, community["code"]) is None:
                    session.add(DirectoryEntry(
                        region_code=community["code"], county_code=county["code"], address=community.get("address"),
                        phone=community.get("phone"), hours=community.get("hours", "Mon–Fri 08:30–12:00, 13:30–17:30 / 工作日 8:30–12:00，13:30–17:30"),
                        updated_at=at, updated_by="seed",
                    ))
                    added += 1
    session.flush()
    return added


def directory(*, session: Session, province: dict, county: str | None = None, counties: set[str] | None = None) -> Directory:
    """The public directory: every county (or one, or those of `counties`), its communities and units."""
    query = select(Region).where(Region.level == RegionLevel.county).order_by(Region.code)
    if county is not None:
        query = query.where(Region.code == county)
    elif counties is not None:
        query = query.where(Region.code.in_(sorted(counties)))
    rows = session.exec(query).all()
    if county is not None and not rows:
        raise NotFound(f"county {county} not found", field="county")
    codes = [c.code for c in rows]
    entries = {e.region_code: e for e in session.exec(select(DirectoryEntry).where(DirectoryEntry.county_code.in_(codes)))} if codes else {}
    communities: dict[str, list[Region]] = {}
    for m in session.exec(select(Region).where(Region.parent_code.in_(codes)).order_by(Region.code)) if codes else []:
        communities.setdefault(m.parent_code, []).append(m)
    units: dict[str, list[Unit]] = {}
    for u in session.exec(select(Unit).where(Unit.county_code.in_(codes)).order_by(Unit.code)) if codes else []:
        units.setdefault(u.county_code, []).append(u)
    cities = {r.code: r for r in session.exec(select(Region).where(Region.level == RegionLevel.city))}
    out = []
    for c in rows:
        e = entries.get(c.code)
        members = communities.get(c.code, [])
        touched = [x for x in [e, *(entries.get(m.code) for m in members)] if x is not None]
        latest = max(touched, key=lambda x: x.updated_at, default=None)
        out.append(CountyEntry(
            county=_named(c), city=_named(cities[c.parent_code]),
            complaint_phone=e.complaint_phone if e else c.complaint_phone,
            service_account=_info(e.service_account) if e else None,
            app=_info(e.app) if e else None,
            communities=[
                CommunityEntry(**_named(m).model_dump(),
                               address=(entries[m.code].address if m.code in entries else m.address),
                               phone=(entries[m.code].phone if m.code in entries else m.phone),
                               hours=entries[m.code].hours if m.code in entries else None,
                               updated_at=entries[m.code].updated_at if m.code in entries else None)
                for m in members
            ],
            units=[UnitEntry(code=u.code, name=u.name) for u in units.get(c.code, [])],
            last_updated=latest.updated_at if latest else None,
            last_updated_by=latest.updated_by if latest else None,
        ))
    return Directory(service_account=Info(**province["service_account"]), app=Info(**province["app"]), counties=out)


def may_edit(session: Session, user: User | None, region_code: str) -> bool:
    """Only the county's own supervisor (or an admin) maintains its entries: the city above
    sees them but the county announces its own numbers."""
    if user is None:
        return False
    if user.role == Role.admin:
        return True
    if user.role != Role.supervisor or not user.region_code:
        return False
    region = session.get(Region, region_code)
    if region is None or region.level not in (RegionLevel.county, RegionLevel.community):
        return False
    return user.region_code == _county_of(session, region)


def visible_counties(session: Session, user: User) -> set[str] | None:
    """The counties a staff account sees in the maintenance view (None: all)."""
    if user.role in (Role.admin, Role.auditor):
        return None
    if user.role != Role.supervisor:
        raise Forbidden("the directory is maintained by county supervisors", field="role")
    scope = scope_for(session, user)
    if scope.everything:
        return None
    region = scope.root
    if region is None:
        return set()
    if region.level == RegionLevel.community:
        return {region.parent_code}  # a community head sees their county's page
    return {c for c in (scope.region_codes() or set()) if (r := session.get(Region, c)) is not None and r.level == RegionLevel.county}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True) if isinstance(value, dict) else str(value)


def _clean(field: str, value: Any) -> Any:
    if value is None:
        return None
    if field in ("service_account", "app"):
        if not isinstance(value, dict):
            raise Invalid(f"{field}: an object with {', '.join(INFO_KEYS)}", field=field)
        extra = set(value) - set(INFO_KEYS)
        if extra:
            raise Invalid(f"{field}: unknown keys {sorted(extra)}", field=field)
        out = {k: str(value.get(k) or "").strip() for k in INFO_KEYS}
        if not (out["name_zh"] or out["name_en"]):
            raise Invalid(f"{field}: give a name (name_zh or name_en)", field=f"{field}.name_zh")
        for k, v in out.items():
            if len(v) > 300:
                raise Invalid(f"{field}.{k}: at most 300 characters", field=f"{field}.{k}")
        return out
    text = str(value).strip()
    if field in ("complaint_phone", "phone"):
        if not PHONE.match(text):
            raise Invalid(f"{field}: a telephone number of digits, '-' and spaces, e.g. 0531-12345", field=field)
        return text
    if not text:
        return None
    if len(text) > 300:
        raise Invalid(f"{field}: at most 300 characters", field=field)
    return text


def update_entry(*, session: Session, user: User, region_code: str, changes: dict[str, Any], at: datetime, note: str | None = None) -> list[DirectoryChange]:
    """Apply the given fields to one entry; one DirectoryChange per field that really changed."""
    region = session.get(Region, region_code)
    if region is None or region.level not in (RegionLevel.county, RegionLevel.community):
        raise NotFound(f"no county or community {region_code}", field="region_code")
    if not may_edit(session, user, region_code):
        raise Forbidden(f"region_code: {region_code} is maintained by its county's supervisor", field="region_code")
    allowed = COUNTY_FIELDS if region.level == RegionLevel.county else COMMUNITY_FIELDS
    wrong = [f for f in changes if f not in allowed]
    if wrong:
        raise Invalid(f"{wrong[0]}: not a field of a {region.level.value} entry (use {', '.join(allowed)})", field=wrong[0])
    if note is not None and len(note) > 500:
        raise Invalid("note: at most 500 characters", field="note")
    county = _county_of(session, region)
    entry = session.get(DirectoryEntry, region_code) or DirectoryEntry(region_code=region_code, county_code=county, updated_at=at)
    made = []
    for field, value in changes.items():
        new = _clean(field, value)
        old = getattr(entry, field)
        if _text(old) == _text(new):
            continue
        setattr(entry, field, new)
        made.append(DirectoryChange(region_code=region_code, county_code=county, field=field, before=_text(old), after=_text(new), note=note, actor=user.username, at=at))
    if made:
        # The Region row's copies (read by the case page and others) follow the directory.
        for change in made:
            if change.field in ("complaint_phone", "address", "phone"):
                setattr(region, change.field, getattr(entry, change.field))
        session.add(region)
        entry.updated_at, entry.updated_by = at, user.username
        session.add(entry)
        session.add_all(made)
        session.flush()
    return made


def changes(*, session: Session, user: User, county: str | None = None, page: int = 1, page_size: int = 50) -> ChangePage:
    """The change log of the counties the account sees, newest first."""
    visible = visible_counties(session, user)
    query = select(DirectoryChange)
    count = select(func.count()).select_from(DirectoryChange)
    if county is not None:
        if visible is not None and county not in visible:
            raise Forbidden(f"county: {county} lies outside your area", field="county")
        query, count = query.where(DirectoryChange.county_code == county), count.where(DirectoryChange.county_code == county)
    elif visible is not None:
        query = query.where(DirectoryChange.county_code.in_(sorted(visible)))
        count = count.where(DirectoryChange.county_code.in_(sorted(visible)))
    total = session.exec(count).one()
    rows = session.exec(query.order_by(DirectoryChange.at.desc(), DirectoryChange.id.desc()).offset((page - 1) * page_size).limit(page_size)).all()
    return ChangePage(total=total, page=page, page_size=page_size, items=[Change.model_validate(r, from_attributes=True) for r in rows])


CHANGE_COLUMNS = ("at", "county_code", "region_code", "field", "before", "after", "note", "actor")


def changes_csv(page: ChangePage) -> str:
    import csv
    import io

    from cases.complaints.service import csv_safe

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CHANGE_COLUMNS)
    for c in page.items:
        w.writerow([csv_safe(getattr(c, k)) for k in CHANGE_COLUMNS])
    return buf.getvalue()


def complaint_numbers(session: Session) -> dict[str, set[str]]:
    """R23: the complaint telephone each county publishes in the directory, per county code
    (what a city's report is checked against)."""
    rows = session.exec(select(DirectoryEntry.region_code, DirectoryEntry.complaint_phone).where(DirectoryEntry.complaint_phone.is_not(None))).all()
    return {code: {phone} for code, phone in rows if phone}
