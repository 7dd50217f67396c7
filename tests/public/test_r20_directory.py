"""R20: the public directory per county, maintained by the county's supervisor; every change
evented and the county's "last updated" shown."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import pytest

from cases.models import Role
from cases.seed import DEMO_PASSWORD, create_user
from tests.conftest import login


@pytest.fixture
def people(api, seeded, clock):
    with seeded.session() as s:
        create_user(s, username="qingdao-supervisor", password=DEMO_PASSWORD, role=Role.supervisor, at=clock.now(), region="370200")
        s.commit()
    names = {"lixia": "lixia-supervisor", "jinan": "jinan-supervisor", "qingdao": "qingdao-supervisor", "heping_head": "heping-head",
             "province": "province", "admin": "admin", "issuer": "heping-issuer", "hotline": "hotline"}
    return {k: login(api, v) for k, v in names.items()}


def test_r20_directory_is_public_and_seeded_for_every_county(api):
    r = api.get("/api/v1/directory")
    assert r.status_code == 200
    data = r.json()
    assert data["service_account"]["name_zh"] == "健康山东服务号" and data["app"]["name_zh"] == "爱山东"
    assert len(data["counties"]) >= 16 * 2
    for county in data["counties"]:
        assert county["complaint_phone"], county["county"]
        assert county["service_account"]["name_zh"] and county["app"]["name_zh"]
        assert county["last_updated"] is not None
        assert county["communities"] and all(c["address"] and c["phone"] for c in county["communities"])
    page = api.get("/directory?county=370102")
    assert page.status_code == 200 and "0531-12345" in page.text and "Last updated" in page.text


def test_r20_county_supervisor_edits_only_their_county(api, seeded, people):
    own = api.put("/api/v1/directory/370102", headers=people["lixia"], json={"complaint_phone": "0531-86081234", "note": "announced 1 March"})
    assert own.status_code == 200, own.text
    assert own.json()["complaint_phone"] == "0531-86081234"
    community = api.put("/api/v1/directory/370102001001", headers=people["lixia"], json={"address": "Heping Road 1", "hours": "08:00-18:00"})
    assert community.status_code == 200, community.text
    assert next(c for c in community.json()["communities"] if c["code"] == "370102001001")["address"] == "Heping Road 1"
    for who, code in (("lixia", "370103"), ("lixia", "370103001001"), ("lixia", "370202"), ("jinan", "370102"), ("qingdao", "370102"),
                      ("heping_head", "370102001001"), ("province", "370102"), ("issuer", "370102001001"), ("hotline", "370102")):
        r = api.put(f"/api/v1/directory/{code}", headers=people[who], json={"complaint_phone": "0531-11111111"} if len(code) == 6 else {"phone": "0531-1111111"})
        assert r.status_code == 403, (who, code, r.text)
    # nothing of the refused edits reached the public directory
    public = {c["county"]["code"]: c for c in api.get("/api/v1/directory").json()["counties"]}
    assert public["370103"]["complaint_phone"] == "0531-12345"
    assert public["370102"]["complaint_phone"] == "0531-86081234"
    assert api.put("/api/v1/directory/370102", json={"complaint_phone": "0531-1"}).status_code == 401
    # the Region row's copy (read by the applicant's case page) follows
    from cases.models import Region

    with seeded.session() as s:
        assert s.get(Region, "370102").complaint_phone == "0531-86081234" and s.get(Region, "370102001001").address == "Heping Road 1"
    # an admin maintains any county
    assert api.put("/api/v1/directory/370202", headers=people["admin"], json={"complaint_phone": "0532-12345678"}).status_code == 200


def test_r20_city_supervisor_sees_its_counties_changes(api, people):
    api.put("/api/v1/directory/370102", headers=people["lixia"], json={"complaint_phone": "0531-86081234"})
    api.put("/api/v1/directory/370202", headers=people["admin"], json={"complaint_phone": "0532-12345678"})
    jinan = api.get("/api/v1/directory/changes", headers=people["jinan"]).json()
    assert {c["county_code"] for c in jinan["items"]} == {"370102"}
    qingdao = api.get("/api/v1/directory/changes", headers=people["qingdao"]).json()
    assert {c["county_code"] for c in qingdao["items"]} == {"370202"}
    lixia = api.get("/api/v1/directory/changes", headers=people["lixia"]).json()
    assert {c["county_code"] for c in lixia["items"]} == {"370102"}
    assert api.get("/api/v1/directory/changes?county=370202", headers=people["jinan"]).status_code == 403
    assert api.get("/api/v1/directory/changes?county=370102", headers=people["qingdao"]).status_code == 403
    assert len(api.get("/api/v1/directory/changes", headers=people["province"]).json()["items"]) == 2
    assert api.get("/api/v1/directory/changes", headers=people["issuer"]).status_code == 403
    assert api.get("/api/v1/directory/changes").status_code == 401
    # the maintenance page: the city supervisor sees its counties, without edit forms
    api.cookies.update(_cookie(api, "jinan-supervisor"))
    page = api.get("/directory/manage")
    api.cookies.clear()
    assert page.status_code == 200 and "历下区" in page.text and "市南区" not in page.text and 'action="/directory/370102/edit"' not in page.text


def _cookie(api, username):
    from ui.pages import COOKIE

    token = login(api, username)["Authorization"].removeprefix("Bearer ")
    return {COOKIE: token}


def test_r20_every_directory_change_is_evented_and_last_updated_shown(api, seeded, people, clock):
    before = api.get("/api/v1/directory?county=370102").json()["counties"][0]
    clock.advance(timedelta(days=2, hours=1))
    edited_at = clock.now()
    people = {"lixia": login(api, "lixia-supervisor")}  # staff tokens last an hour
    r = api.put("/api/v1/directory/370102", headers=people["lixia"], json={"complaint_phone": "0531-86081234", "app": {"name_zh": "爱山东", "name_en": "Love Shandong", "how_zh": "应用商店", "how_en": "app store"}, "note": "new number"})
    assert r.status_code == 200
    after = api.get("/api/v1/directory?county=370102").json()["counties"][0]
    assert datetime.fromisoformat(after["last_updated"]) == edited_at > datetime.fromisoformat(before["last_updated"])
    assert after["last_updated_by"] == "lixia-supervisor"
    # a second save of the same value is no change and leaves no event
    api.put("/api/v1/directory/370102", headers=people["lixia"], json={"complaint_phone": "0531-86081234"})
    log = api.get("/api/v1/directory/changes?county=370102", headers=people["lixia"]).json()
    assert log["total"] == 2
    phone = next(c for c in log["items"] if c["field"] == "complaint_phone")
    assert (phone["before"], phone["after"], phone["actor"], phone["note"]) == ("0531-12345", "0531-86081234", "lixia-supervisor", "new number")
    assert datetime.fromisoformat(phone["at"]) == edited_at
    # a community edit makes the county's "last updated" later again
    clock.advance(timedelta(hours=3))
    people = {"lixia": login(api, "lixia-supervisor")}
    api.put("/api/v1/directory/370102001002", headers=people["lixia"], json={"phone": "0531-60102999"})
    county = api.get("/api/v1/directory?county=370102").json()["counties"][0]
    assert datetime.fromisoformat(county["last_updated"]) == clock.now()
    page = api.get("/directory?county=370102")
    assert "0531-60102999" in page.text and clock.now().astimezone().strftime("%Y-%m-%d") in page.text
    # a re-seed (idempotent) keeps the county's own edits
    from cases.seed import seed

    with seeded.session() as s:
        assert seed(s, at=clock.now(), hash_key=seeded.settings.secret("idhash"))["directory_entries"] == 0
        s.commit()
    assert api.get("/api/v1/directory?county=370102").json()["counties"][0]["complaint_phone"] == "0531-86081234"
    # the CSV has the same rows as the list
    table = api.get("/api/v1/directory/changes?county=370102", headers=people["lixia"]).json()["items"]
    rows = list(csv.DictReader(io.StringIO(api.get("/api/v1/directory/changes.csv?county=370102", headers=people["lixia"]).text)))
    assert [(r["field"], r["after"], r["actor"]) for r in rows] == [(c["field"], c["after"] or "", c["actor"]) for c in table]


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_r20_directory_edit_refuses_hostile_input_by_field(api, people):
    cases = [
        ({"complaint_phone": "call me maybe"}, "complaint_phone"),
        ({"complaint_phone": "=HYPERLINK(1)"}, "complaint_phone"),
        ({"address": "x"}, "address"),  # a county entry has no address
        ({"service_account": {"name_zh": "", "name_en": ""}}, "service_account"),
        ({"service_account": {"evil": 1}}, "service_account"),
        ({"complaint_phone": "0" * 100}, "complaint_phone"),
        ({"owner": "me"}, "owner"),
        ({}, "body"),
    ]
    for body, field in cases:
        r = api.put("/api/v1/directory/370102", headers=people["lixia"], json=body)
        assert r.status_code == 422, (body, r.text)
        assert field in r.text, (body, r.text)
    assert api.put("/api/v1/directory/999999", headers=people["admin"], json={"complaint_phone": "0531-1234"}).status_code == 404
    assert api.put("/api/v1/directory/370100", headers=people["admin"], json={"complaint_phone": "0531-1234"}).status_code == 404
    assert api.put("/api/v1/directory/abc'--", headers=people["admin"], json={"complaint_phone": "0531-1234"}).status_code == 422
    assert api.get("/api/v1/directory?county=370102' OR 1=1").status_code == 422


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_r20_county_supervisor_edits_through_the_page(api, seeded):
    import re

    api.cookies.update(_cookie(api, "lixia-supervisor"))
    page = api.get("/directory/manage")
    assert page.status_code == 200 and 'action="/directory/370102/edit"' in page.text and 'action="/directory/370103/edit"' not in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    form = {"csrf_token": csrf, "complaint_phone": "0531-86089999", "note": "from the page",
            **{f"{k}.{f}": v for k in ("service_account", "app") for f, v in (("name_zh", "健康山东服务号"), ("name_en", "Healthy Shandong"), ("how_zh", "微信"), ("how_en", "WeChat"))}}
    assert api.post("/directory/370102/edit", data=form, follow_redirects=False).status_code == 303
    assert api.post("/directory/370102001001/edit", data={"csrf_token": csrf, "address": "Heping Road 2", "phone": "0531-60102001", "hours": ""}, follow_redirects=False).status_code == 303
    refused = api.post("/directory/370103/edit", data=form, follow_redirects=False)
    assert refused.status_code == 403
    assert api.post("/directory/370102/edit", data={**form, "complaint_phone": "not a phone"}).status_code == 422
    assert api.post("/directory/370102/edit", data={k: v for k, v in form.items() if k != "csrf_token"}).status_code == 403
    api.cookies.clear()
    county = api.get("/api/v1/directory?county=370102").json()["counties"][0]
    assert county["complaint_phone"] == "0531-86089999" and county["app"]["how_en"] == "WeChat"
    assert next(c for c in county["communities"] if c["code"] == "370102001001")["address"] == "Heping Road 2"
