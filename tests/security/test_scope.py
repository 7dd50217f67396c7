"""Scope is exact (issue 14): one scope, derived from the region tree, decides what an account
sees and may do; a new account lies wholly inside its creator's scope; a duplicate submission
reveals nothing to a caller who has not shown the case is theirs; a token issued a second or two
"in the future" by a skewed clock is accepted.

Expectations are derived from cases/data/regions.json (read here independently of the code
under test), never from code prefixes.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from cases.models import Application, Region, RegionLevel, Role, Unit, User
from cases.seed import DEMO_PASSWORD, _demo_password_hash, create_user
from tests.conftest import login
from tests.helpers import example

DATA = json.loads((Path(__file__).parents[2] / "cases" / "data" / "regions.json").read_text())
CITIES = [c["code"] for c in DATA["cities"]]


def _tree() -> tuple[dict[str, list[str]], dict[str, str]]:
    """Each region code -> its chain of ancestors (itself first); each unit -> its county."""
    chains: dict[str, list[str]] = {DATA["province"]["code"]: [DATA["province"]["code"]]}
    units: dict[str, str] = {}
    for city in DATA["cities"]:
        chains[city["code"]] = [city["code"], DATA["province"]["code"]]
        for county in city["counties"]:
            chains[county["code"]] = [county["code"], *chains[city["code"]]]
            for community in county["communities"]:
                chains[community["code"]] = [community["code"], *chains[county["code"]]]
            for unit in county.get("units", []):
                units[unit["code"]] = county["code"]
    return chains, units


CHAINS, UNITS = _tree()


def _communities_under(code: str) -> set[str]:
    return {c for c, chain in CHAINS.items() if len(c) == 12 and code in chain}


def _supervisor(seeded, clock, username: str, region: str) -> dict[str, str]:
    with seeded.session() as s:
        create_user(s, username=username, password=DEMO_PASSWORD, role=Role.supervisor, at=clock.now(), region=region, password_hash=_demo_password_hash())
        s.commit()


def _issuer(username: str, **fields) -> dict:
    return {"username": username, "password": "a-long-passphrase", "role": "issuer", **fields}


# ------------------------------------------------------------ the scope ---

@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_scope_of_every_city_county_and_community_is_its_subtree(seeded):
    """For each of the 16 cities, each county and each community: the scope covers exactly the
    regions whose chain in the data contains it, the units of its counties, and its cases."""
    from cases.scope import scope_for

    assert len(CITIES) == 16
    with seeded.session() as s:
        for root in [c for c in CHAINS if c != DATA["province"]["code"]]:
            scope = scope_for(s, User(username="x", password_hash="x", role=Role.supervisor, region_code=root))
            for code, chain in CHAINS.items():
                assert scope.covers_region(code) == (root in chain), (root, code)
            for unit, county in UNITS.items():
                assert scope.covers_unit(unit) == (root in CHAINS[county]), (root, unit)
            assert {r.code for r in scope.communities()} == _communities_under(root)
            for community in _communities_under(DATA["province"]["code"]):
                chain = CHAINS[community]
                app = Application(community_code=community, county_code=chain[1], city_code=chain[2], kind="standard", channel="app", reference="r", applicant_id="a", access_token_hash="")
                assert scope.covers_case(app) == (root in chain), (root, community)
        # The provincial office, admins and a supervisor of the province see everything; a
        # checkpoint, an applicant or a supervisor without a region sees nothing.
        for user in (User(username="p", password_hash="x", role=Role.auditor), User(username="a", password_hash="x", role=Role.admin),
                     User(username="s", password_hash="x", role=Role.supervisor, region_code="370000")):
            scope = scope_for(s, user)
            assert all(scope.covers_region(c) for c in CHAINS) and all(scope.covers_unit(u) for u in UNITS)
        for user in (User(username="c", password_hash="x", role=Role.checkpoint, region_code="370000"), User(username="n", password_hash="x", role=Role.supervisor)):
            scope = scope_for(s, user)
            assert not any(scope.covers_region(c) for c in CHAINS) and not any(scope.covers_unit(u) for u in UNITS)


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_scope_sql_filter_selects_the_same_cases_as_covers_case(api, seeded, clock):
    """The list filter and the single-case answer agree, for a case in each city."""
    from cases.scope import scope_for

    today = clock.now().date()
    for i, city in enumerate(DATA["cities"]):
        county = city["counties"][-1]
        body = {**example("standard", today), "community_code": county["communities"][0]["code"], "unit_code": None,
                "id_number": _id_number(county["code"], i), "phone": f"1380000{i:04d}"}
        assert api.post("/api/v1/applications", json=body).status_code == 201
    with seeded.session() as s:
        apps = s.exec(select(Application)).all()
        assert len(apps) == 16
        for root in CHAINS:
            scope = scope_for(s, User(username="x", password_hash="x", role=Role.supervisor, region_code=root))
            listed = set(s.exec(select(Application.id).where(scope.case_filter())))
            assert listed == {a.id for a in apps if scope.covers_case(a)}
            assert listed == {a.id for a in apps if root in CHAINS[a.community_code]}


def _id_number(county: str, seq: int) -> str:
    """A valid resident ID (GB 11643 check character) born in `county`."""
    body = f"{county}19800101{seq:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights)) % 11]


# ------------------------------------------------- every city, by the API ---

@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_r18_each_city_supervisor_sees_and_registers_only_its_own_city(api, seeded, clock):
    """Weihai is 371000: trimming its zeros gave the prefix 371, i.e. seven cities' roster gaps
    and issuers in Rizhao or Linyi. Every city's supervisor sees its own communities only and
    registers issuers only there."""
    for i, city in enumerate(CITIES):
        name = f"sup-{city}"
        _supervisor(seeded, clock, name, city)
        headers = login(api, name)
        gaps = {g["community"] for g in api.get("/api/v1/roster/gaps", headers=headers).json()}
        assert gaps == _communities_under(city), city

        own = min(_communities_under(city))
        other_city = CITIES[(i + 1) % len(CITIES)]
        foreign = min(_communities_under(other_city))
        r = api.post("/api/v1/users", json=_issuer(f"iss-{city}", community=own), headers=headers)
        assert r.status_code == 201, (city, r.text)
        r = api.post("/api/v1/users", json=_issuer(f"bad-{city}", community=foreign), headers=headers)
        assert r.status_code == 403 and "community" in r.json()["detail"], (city, other_city, r.text)

        listed = api.get("/api/v1/users", headers=headers).json()
        assert {u["region_code"] for u in listed} - {None} == _communities_under(city)  # seeded issuer-<community> accounts, the new one
        assert all(city in CHAINS[UNITS[u["unit_code"]]] for u in listed if u["unit_code"])  # unit issuers of the city


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_r18_county_codes_ending_in_zero_cover_no_sibling(api, seeded, clock):
    """The demo tree has no county code ending in 0, so two real Jining counties are added
    (GB/T 2260: 370830 汶上县 Wenshang, 370831 泗水县 Sishui). "370830".rstrip("0") is
    "37083", the prefix of both."""
    with seeded.session() as s:
        for code, zh, en in (("370830", "汶上县", "Wenshang County"), ("370831", "泗水县", "Sishui County")):
            s.add(Region(code=code, level=RegionLevel.county, parent_code="370800", name_zh=zh, name_en=en))
            s.flush()
            s.add(Region(code=f"{code}001001", level=RegionLevel.community, parent_code=code, name_zh="示范社区", name_en="Demo Community"))
            s.add(Unit(code=f"U{code}001", name=f"{en} demo unit", county_code=code))
        s.commit()
    _supervisor(seeded, clock, "wenshang-supervisor", "370830")
    headers = login(api, "wenshang-supervisor")
    gaps = {g["community"] for g in api.get("/api/v1/roster/gaps", headers=headers).json()}
    assert gaps == {"370830001001"}
    assert api.post("/api/v1/users", json=_issuer("sishui-1", community="370831001001"), headers=headers).status_code == 403
    assert api.post("/api/v1/users", json=_issuer("sishui-2", unit="U370831001"), headers=headers).status_code == 403
    assert api.post("/api/v1/users", json=_issuer("wenshang-1", community="370830001001", unit="U370830001"), headers=headers).status_code == 201
    # the city above sees both
    _supervisor(seeded, clock, "jining-supervisor", "370800")
    jining = {g["community"] for g in api.get("/api/v1/roster/gaps", headers=login(api, "jining-supervisor")).json()}
    assert {"370830001001", "370831001001"} <= jining and all(CHAINS.get(c, ["", "", "370800"])[2] == "370800" for c in jining)


# --------------------------------------- every field of a new account ---

def test_issuer_with_a_unit_of_another_city_cannot_be_created(api, seeded, clock):
    """The attack: a county supervisor gives a new issuer their own community and a Qingdao
    unit; that issuer then read a Qingdao unit's case unmasked and approved it."""
    today = clock.now().date()
    body = {**example("standard", today), "unit_code": "U370202001"}  # an employee of a Qingdao unit
    case = api.post("/api/v1/applications", json=body).json()
    lixia = login(api, "lixia-supervisor")

    attack = _issuer("mole", community="370102001001", unit="U370202001")
    r = api.post("/api/v1/users", json=attack, headers=lixia)
    assert r.status_code == 403 and "unit" in r.json()["detail"], r.text
    assert api.post("/api/v1/auth/token", data={"username": "mole", "password": "a-long-passphrase"}).status_code == 401
    with seeded.session() as s:
        assert s.exec(select(User).where(User.username == "mole")).first() is None

    # every other field is checked too, each named in the answer
    r = api.post("/api/v1/users", json={**_issuer("mole2"), "region": "370202001001"}, headers=lixia)
    assert r.status_code == 403 and "region" in r.json()["detail"], r.text
    r = api.post("/api/v1/users", json={**_issuer("mole3", community="370102001001"), "role": "supervisor"}, headers=lixia)
    assert r.status_code == 403 and "role" in r.json()["detail"], r.text
    r = api.post("/api/v1/users", json=_issuer("mole4", unit="U370202001"), headers=lixia)
    assert r.status_code == 403 and "unit" in r.json()["detail"], r.text

    # the case stays out of reach of Lixia's issuers; a unit of Lixia itself is fine
    heping = login(api, "heping-issuer")
    assert api.get(f"/api/v1/applications/{case['id']}/personal-data", params={"reason": "verify the address by phone"}, headers=heping).status_code == 404
    r = api.post("/api/v1/users", json=_issuer("lixia-unit-issuer", unit="U370102001"), headers=lixia)
    assert r.status_code == 201 and r.json()["unit_code"] == "U370102001"
    # admins may create any account
    admin = login(api, "admin")
    assert api.post("/api/v1/users", json=_issuer("qd-unit-issuer", unit="U370202001"), headers=admin).status_code == 201


# ------------------------------------------------ duplicate submissions ---

SECRET_KEYS = ("id", "reference", "status", "pass", "access_token", "card_number")


def test_duplicate_submission_reveals_nothing_without_proof(api, seeded, clock):
    """An anonymous POST with someone's ID number got their open case's id, status, pass
    colour and card number. Now: 409 with a message naming no case; the real replay (same
    Idempotency-Key) and the applicant's own access token still get the case back."""
    today = clock.now().date()
    body = example("arrival", today)  # an arrival holds a yellow pass at once (R7)
    first = api.post("/api/v1/applications", json=body, headers={"Idempotency-Key": "mine-1"})
    assert first.status_code == 201
    mine = first.json()
    card = mine["pass"]["card_number"]

    stranger = {**body, "phone": "13912345678", "address": "somewhere else 1"}
    for headers in ({}, {"Idempotency-Key": "theirs-1"}, {"X-Access-Token": "0" * 40}, login(api, "qingdao-issuer")):
        r = api.post("/api/v1/applications", json=stranger, headers=headers)
        assert r.status_code == 409, r.text
        text = r.text
        assert "already open" in text
        for secret in (mine["id"], mine["reference"], card, mine["access_token"], "yellow", "submitted", "observing"):
            assert secret not in text, (headers, secret)

    replay = api.post("/api/v1/applications", json=body, headers={"Idempotency-Key": "mine-1"})
    assert replay.status_code == 200 and replay.json()["id"] == mine["id"] and replay.json()["access_token"] == mine["access_token"]
    proven = api.post("/api/v1/applications", json=body, headers={"X-Access-Token": mine["access_token"]})
    assert proven.status_code == 200 and proven.json()["id"] == mine["id"] and proven.json()["pass"]["card_number"] == card
    # staff whose area covers the case (the community's issuer at the counter) see it, without its link
    staff = api.post("/api/v1/applications", json={**body, "channel": "counter"}, headers=login(api, "heping-issuer"))
    assert staff.status_code == 200 and staff.json()["id"] == mine["id"] and staff.json()["access_token"] is None
    with seeded.session() as s:
        assert len(s.exec(select(Application)).all()) == 1


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_duplicate_in_a_unit_bulk_upload_names_no_case(api, seeded, clock):
    today = clock.now().date()
    qingdao = api.post("/api/v1/applications", json=example("standard", today)).json()
    r = api.post("/api/v1/units/applications", json=[{**example("standard", today), "community_code": "370102001001"}], headers=login(api, "unit-hr"))
    row = r.json()["results"][0]
    assert row["status"] == "invalid" and qingdao["id"] not in r.text and qingdao["reference"] not in r.text


# ----------------------------------------------------------- token leeway ---

@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_staff_token_issued_by_a_clock_two_seconds_ahead_is_accepted(api, seeded, clock):
    """Another worker's clock 2 s ahead issued the token: its `iat` is 2 s in this process's
    future. Accepted within the 30 s leeway; a token 2 minutes ahead, or expired by more than
    the leeway, is refused. Times come from the injected clock, kept near the machine's time
    (the old check compared `iat` with the machine clock)."""
    from cases.settings import get_settings

    here = datetime.now(UTC).replace(microsecond=0)
    clock.set(here + timedelta(seconds=2))
    ahead = login(api, "lixia-supervisor")
    clock.set(here)
    assert api.get("/api/v1/users", headers=ahead).status_code == 200

    clock.set(here + timedelta(minutes=2))
    far_ahead = login(api, "lixia-supervisor")
    clock.set(here)
    assert api.get("/api/v1/users", headers=far_ahead).status_code == 401

    clock.set(here + timedelta(minutes=get_settings().access_token_minutes, seconds=20))
    assert api.get("/api/v1/users", headers=ahead).status_code == 200  # 18 s past exp: within the leeway
    clock.set(here + timedelta(minutes=get_settings().access_token_minutes, seconds=40))
    assert api.get("/api/v1/users", headers=ahead).status_code == 401


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_r13_county_supervisor_reassigns_a_task_held_by_a_unit_of_the_county(api, seeded, clock):
    """Reassignment by a supervisor whose area covers the holder: a unit's code is not a region
    code, so cutting it (`"U370102001"[:6]`) never matched the county; the tree does."""
    from tests.helpers import to_audit

    body = {**example("standard", clock.now().date()), "community_code": "370102001001"}
    rows = api.post("/api/v1/units/applications", json=[body], headers=login(api, "unit-hr")).json()["results"]
    task_id = to_audit(seeded, clock, rows[0]["id"])
    holder = api.get("/api/v1/audit-tasks", headers=login(api, "unit-issuer")).json()[0]["holder"]
    assert holder == {"kind": "unit", "code": "U370102001"}
    assert api.post(f"/api/v1/audit-tasks/{task_id}/reassign", json={"to_username": "unit-issuer"}, headers=login(api, "lixia-supervisor")).status_code == 200
    _supervisor(seeded, clock, "qingdao-sup", "370200")
    assert api.post(f"/api/v1/audit-tasks/{task_id}/reassign", json={"to_username": None}, headers=login(api, "qingdao-sup")).status_code == 403
