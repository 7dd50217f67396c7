"""Demo data: all 16 cities of Shandong, their counties, communities and units, demo
accounts and small registry samples. Idempotent: running it twice changes nothing."""
from __future__ import annotations

import json
from functools import lru_cache
from datetime import datetime
from pathlib import Path

from sqlmodel import Session, select

from cases.models import Region, RegionLevel, Role, Unit, User
from cases.security import hash_password

DATA = Path(__file__).parent / "data"
DEMO_PASSWORD = "demo-pass-2026"

# username, role, scope (region or unit), full name
DEMO_USERS = [
    ("admin", Role.admin, None, "System administrator"),
    ("province", Role.auditor, "370000", "Provincial leading group office"),
    ("jinan-supervisor", Role.supervisor, "370100", "Jinan city supervisor"),
    ("lixia-supervisor", Role.supervisor, "370102", "Lixia county supervisor"),
    ("heping-head", Role.supervisor, "370102001001", "Heping community head"),
    ("heping-issuer", Role.issuer, "370102001001", "Heping community issuer"),
    ("heping-issuer2", Role.issuer, "370102001001", "Heping community issuer 2"),
    ("unit-issuer", Role.issuer, "unit:U370102001", "Issuer of Jinan Demonstration Machinery"),
    ("unit-hr", Role.unit, "unit:U370102001", "HR of Jinan Demonstration Machinery"),
    ("qingdao-issuer", Role.issuer, "370202001001", "Issuer of the standard example's community (Qingdao)"),
    ("checkpoint", Role.checkpoint, "370000", "Checkpoint operator"),
    ("hotline", Role.hotline, None, "Complaint hotline operator (12345)"),
]


def load_regions(session: Session) -> int:
    tree = json.loads((DATA / "regions.json").read_text())
    added = 0

    def put(row: Region) -> None:
        nonlocal added
        if session.get(Region, row.code) is None:
            session.add(row)
            added += 1

    p = tree["province"]
    put(Region(code=p["code"], level=RegionLevel.province, name_zh=p["name_zh"], name_en=p["name_en"]))
    session.flush()
    for city in tree["cities"]:
        put(Region(code=city["code"], level=RegionLevel.city, parent_code=p["code"], name_zh=city["name_zh"], name_en=city["name_en"]))
        session.flush()
        for county in city["counties"]:
            put(Region(code=county["code"], level=RegionLevel.county, parent_code=city["code"], name_zh=county["name_zh"], name_en=county["name_en"], complaint_phone=county.get("complaint_phone")))
            session.flush()
            for community in county["communities"]:
                put(Region(code=community["code"], level=RegionLevel.community, parent_code=county["code"], name_zh=community["name_zh"], name_en=community["name_en"], address=community.get("address"), phone=community.get("phone")))
            for unit in county.get("units", []):
                if session.get(Unit, unit["code"]) is None:
                    session.add(Unit(code=unit["code"], name=unit["name"], county_code=unit["county"]))
                    added += 1
            session.flush()
    return added


@lru_cache
def _demo_password_hash() -> str:
    # The demo accounts share one password, so one argon2 hash serves them all.
    return hash_password(DEMO_PASSWORD)


def create_user(session: Session, *, username: str, password: str, role: Role, at: datetime, region: str | None = None, unit: str | None = None, full_name: str = "", password_hash: str | None = None) -> User:
    from cases.errors import Conflict, Invalid

    if session.exec(select(User).where(User.username == username)).first():
        raise Conflict(f"user {username} exists already")
    if len(password) < 8:
        raise Invalid("password must have at least 8 characters", field="password")
    if region and session.get(Region, region) is None:
        raise Invalid(f"region {region} does not exist", field="region")
    if unit and session.get(Unit, unit) is None:
        raise Invalid(f"unit {unit} does not exist", field="unit")
    if role == Role.issuer and not region and not unit:
        raise Invalid("an issuer belongs to a community (--community) or a unit (--unit)", field="scope")
    if role == Role.issuer and region and session.get(Region, region).level != RegionLevel.community:
        raise Invalid("an issuer's --community must be a community (village) code", field="community")
    user = User(username=username, password_hash=password_hash or hash_password(password), role=role, region_code=region, unit_code=unit, full_name=full_name, created_at=at)
    session.add(user)
    session.flush()
    return user


def seed(session: Session, *, at: datetime, hash_key: bytes) -> dict[str, int]:
    regions = load_regions(session)
    users = 0
    for username, role, scope, name in DEMO_USERS:
        if session.exec(select(User).where(User.username == username)).first():
            continue
        unit = scope.removeprefix("unit:") if scope and scope.startswith("unit:") else None
        region = None if unit else scope
        create_user(session, username=username, password=DEMO_PASSWORD, role=role, at=at, region=region, unit=unit, full_name=name, password_hash=_demo_password_hash())
        users += 1
    # R18: every demo community has at least one registered issuer (issuer-<community code>).
    for community in session.exec(select(Region).where(Region.level == RegionLevel.community)):
        username = f"issuer-{community.code}"
        if session.exec(select(User).where(User.username == username)).first() is None:
            create_user(session, username=username, password=DEMO_PASSWORD, role=Role.issuer, at=at, region=community.code, full_name=f"Issuer of {community.name_en}", password_hash=_demo_password_hash())
            users += 1
    samples = load_samples(session, at=at, hash_key=hash_key)
    directory = seed_directory(session, at=at)
    reporting = seed_reporting_history(session)
    return {"regions_and_units": regions, "users": users, "registry_rows": samples, "directory_entries": directory, "reporting_reports": reporting}


NOTICE_OBLIGATION = "Implementation of the notice on health pass cards (codes) and the complaint telephones announced (R23)"
# The notice's own deadline as history: most cities on time, some late (days after 6 March 2020),
# some never reported. Times are Asia/Shanghai.
NOTICE_LATE = {"370400": (2020, 3, 7, 10, 15), "371100": (2020, 3, 9, 16, 40), "371400": (2020, 3, 8, 9, 5)}
NOTICE_MISSING = {"371500", "371600", "371700"}


def seed_reporting_history(session: Session) -> int:
    """R23: the notice's obligation (due 6 March 2020, end of day, all 16 cities) with the cities'
    reports, through the reporting service. Idempotent: nothing happens when it exists."""
    from cases.clock import SHANGHAI
    from cases.reporting.models import ReportingObligation
    from cases.reporting.service import ImplementationStatus, create_obligation, notify_overdue, record_report

    if session.exec(select(ReportingObligation).where(ReportingObligation.title == NOTICE_OBLIGATION)).first() is not None:
        return 0
    tree = json.loads((DATA / "regions.json").read_text())
    issued = datetime(2020, 3, 2, 9, 0, tzinfo=SHANGHAI)
    obligation = create_obligation(
        session=session, user=None, actor="seed", title=NOTICE_OBLIGATION, due="2020-03-06", at=issued,
        description="Municipalities report the implementation and the complaint telephone numbers announced to the public "
        "at city and county level to the provincial leading group (headquarters) office before 6 March 2020.",
    )
    reports = 0
    for i, city in enumerate(tree["cities"]):
        code = city["code"]
        if code in NOTICE_MISSING:
            continue
        when = datetime(*NOTICE_LATE[code], tzinfo=SHANGHAI) if code in NOTICE_LATE else datetime(2020, 3, 4 + i % 3, 10 + i % 6, 30, tzinfo=SHANGHAI)
        counties = {c["code"]: [c["complaint_phone"]] for c in city["counties"] if c.get("complaint_phone")}
        city_number = next(iter(counties.values()), ["12345"])[0]
        status = ImplementationStatus.implemented if code not in NOTICE_LATE else ImplementationStatus.partially_implemented
        record_report(
            session=session, obligation_id=obligation.id, city=code, actor=f"seed:{code}", status=status, at=when,
            implementation=f"{city['name_en']}: the notice was forwarded to every county on 3 March; handling communities and "
            "their issuers are published per county; extra local health certificates were abolished.",
            city_numbers=[city_number], county_numbers=counties,
        )
        reports += 1
    # The cities that never reported were told so the day after the deadline.
    notify_overdue(session=session, now=datetime(2020, 3, 7, 9, 0, tzinfo=SHANGHAI))
    return reports


def seed_directory(session: Session, *, at: datetime) -> int:
    """R20: the public directory of every demo county and community (only missing entries:
    a county's own edits survive a re-seed)."""
    from cases.directory.service import seed_directory as put_entries

    tree = json.loads((DATA / "regions.json").read_text())
    return put_entries(session, tree=tree, at=at)


def load_samples(session: Session, *, at: datetime, hash_key: bytes) -> int:
    """Small registry samples for the comparison demo (only into empty registries)."""
    try:
        from cases.services.registries import import_csv, is_empty
    except ModuleNotFoundError:
        return 0
    total = 0
    for path in sorted((DATA / "samples").glob("*.csv")):
        source = path.stem
        if is_empty(session, source):
            total += import_csv(session=session, source=source, text=path.read_text(), at=at, hash_key=hash_key).accepted
    return total
