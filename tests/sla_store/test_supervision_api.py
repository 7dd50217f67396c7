"""Supervision API (R12, R13, R21): breaches, at-risk cases, CSV, notification queues and the
provincial audit queue, each scoped to the caller's region. SQLite and PostgreSQL."""
from __future__ import annotations

import csv
import io

import pytest

from cases.models import Role
from sla_support import local, open_case, sweep
from tests.conftest import login

LI_NA = {"name": "李娜", "id_number": "370102199003070024", "phone": "+86 139 0531 0001", "community_code": "370102001001"}


@pytest.fixture
def two_cases(seeded, clock):
    """One case in Qingdao (Shinan, 370202001001), one in Jinan (Lixia, 370102001001), both
    submitted Tue 09:00, due 16:30; and a Qingdao city supervisor."""
    from cases.seed import create_user

    qingdao, _ = open_case(seeded, clock)
    lixia, _ = open_case(seeded, clock, **LI_NA)
    with seeded.session() as s:
        from cases.seed import _demo_password_hash

        create_user(s, username="qingdao-supervisor", password="demo-pass-2026", role=Role.supervisor, at=clock.now(), region="370200", password_hash=_demo_password_hash())
        s.commit()
    return {"qingdao": qingdao, "lixia": lixia}


class Logins:
    """One sign-in per user and test (argon2 verification is slow on purpose)."""

    def __init__(self, client):
        self.client, self.headers = client, {}

    def __getitem__(self, username: str) -> dict[str, str]:
        if username not in self.headers:
            self.headers[username] = login(self.client, username)
        return self.headers[username]


@pytest.fixture
def auth(api):
    return Logins(api)


def _breached(seeded, clock):
    clock.set(local("2026-03-03 16:30"))
    assert sweep(seeded, clock) == {"reminder_50": 2, "warn_80": 2, "breach": 2}


def _refs(body) -> set[str]:
    return {item["application_id"] for item in body["items"]}


def test_r13_breaches_and_csv_are_scoped_to_the_supervisors_region(api, auth, seeded, clock, two_cases):
    _breached(seeded, clock)
    qingdao, lixia = two_cases["qingdao"], two_cases["lixia"]
    seen = {}
    for user in ("lixia-supervisor", "jinan-supervisor", "heping-head", "qingdao-supervisor", "province"):
        r = api.get("/api/v1/supervision/breaches", headers=auth[user])
        assert r.status_code == 200, r.text
        seen[user] = r.json()
    assert _refs(seen["lixia-supervisor"]) == {lixia}  # no Qingdao breach for Lixia
    assert _refs(seen["jinan-supervisor"]) == {lixia}
    assert _refs(seen["heping-head"]) == {lixia}
    assert _refs(seen["qingdao-supervisor"]) == {qingdao}
    assert _refs(seen["province"]) == {qingdao, lixia}
    body = seen["province"]
    assert body["total"] == 2
    assert body["counts"]["by_community"] == {"370102001001": 1, "370202001001": 1}
    assert body["counts"]["by_county"] == {"370102": 1, "370202": 1}
    assert body["counts"]["by_responsible"] == {"community/370102001001": 1, "community/370202001001": 1}
    item = next(i for i in seen["qingdao-supervisor"]["items"])
    assert item["responsible"] == {"kind": "community", "code": "370202001001"}
    assert item["breach_at"] == item["due_at"] == "2026-03-03T16:30:00+08:00"
    assert item["open"] is True and item["outcome"] is None and item["delay_seconds"] == 0
    assert "qingdao-issuer" in item["issuers"]

    # Narrowing inside one's own region works; reaching outside it does not.
    lixia_head = auth["lixia-supervisor"]
    assert _refs(api.get("/api/v1/supervision/breaches?region=370102001001", headers=lixia_head).json()) == {lixia}
    assert _refs(api.get("/api/v1/supervision/breaches?region=370102001002", headers=lixia_head).json()) == set()
    assert api.get("/api/v1/supervision/breaches?region=370202", headers=lixia_head).status_code == 403
    province = auth["province"]
    assert _refs(api.get("/api/v1/supervision/breaches?region=370200", headers=province).json()) == {qingdao}

    # Time window on the breach time (aware instants only).
    r = api.get("/api/v1/supervision/breaches", params={"since": "2026-03-03T16:30:00+08:00", "until": "2026-03-03T16:31:00+08:00"}, headers=province)
    assert r.json()["total"] == 2
    r = api.get("/api/v1/supervision/breaches", params={"since": "2026-03-03T08:31:00Z"}, headers=province)
    assert r.json()["total"] == 0

    # The same, as CSV.
    r = api.get("/api/v1/supervision/breaches.csv", headers=auth["qingdao-supervisor"])
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["application_id"] for row in rows] == [two_cases["qingdao"]]
    row = rows[0]
    assert row["responsible_kind"] == "community" and row["responsible_code"] == "370202001001"
    assert row["breach_at"] == "2026-03-03T16:30:00+08:00" and row["open"] == "yes" and row["status"] == "awaiting_audit"
    header = r.text.splitlines()[0]
    assert header.startswith("reference,application_id,status,community_code")
    everything = list(csv.DictReader(io.StringIO(api.get("/api/v1/supervision/breaches.csv", headers=auth["province"]).text)))
    assert len(everything) == 2
    empty = api.get("/api/v1/supervision/breaches.csv", headers=auth["lixia-supervisor"], params={"since": "2026-03-04T00:00:00+08:00"})
    assert empty.status_code == 200 and len(empty.text.splitlines()) == 1  # the header alone


BAD_QUERIES = [
    "region=abc",
    "region=3701",
    "region=999999",  # well-formed, but no such region
    "since=2026-03-03T16:00:00",  # naive: ambiguous
    "since=yesterday",
    "since=2026-03-04T00:00:00%2B08:00&until=2026-03-03T00:00:00%2B08:00",
    "limit=0",
]


def test_who_may_call_and_bad_query_parameters(api, auth):
    for path in ("/breaches", "/breaches.csv", "/provincial-audit"):
        for query in BAD_QUERIES:
            if path == "/breaches.csv" and query.startswith("limit"):
                continue
            r = api.get(f"/api/v1/supervision{path}?{query}", headers=auth["province"])
            assert r.status_code == 422, (path, query, r.text)
    for query in ("within_hours=-1", "within_hours=soon", "within_hours=721", "region=37"):
        assert api.get(f"/api/v1/supervision/at-risk?{query}", headers=auth["province"]).status_code == 422, query
    assert api.get("/api/v1/supervision/notifications?level=mayor", headers=auth["province"]).status_code == 422
    assert api.get("/api/v1/supervision/breaches").status_code == 401
    issuer = auth["qingdao-issuer"]
    for path in ("/breaches", "/breaches.csv", "/at-risk", "/notifications", "/provincial-audit"):
        assert api.get(f"/api/v1/supervision{path}", headers=issuer).status_code == 403
    assert api.get("/api/v1/supervision/provincial-audit", headers=auth["lixia-supervisor"]).status_code == 403


def test_r11_at_risk_cases_within_working_hours(api, auth, seeded, clock, two_cases):
    """Online clocks count working time: at 11:00 both cases (due 16:30) have 4 working
    hours left (1 h before lunch, 3 h after), though 5.5 clock hours remain."""
    clock.set(local("2026-03-03 11:00"))
    province = auth["province"]
    assert api.get("/api/v1/supervision/at-risk?within_hours=3.9", headers=province).json()["total"] == 0
    body = api.get("/api/v1/supervision/at-risk?within_hours=4", headers=province).json()
    assert body["total"] == 2 and body["counts"]["by_county"] == {"370102": 1, "370202": 1}
    assert body["counts"]["by_community"] == {"370102001001": 1, "370202001001": 1}
    item = body["items"][0]
    assert item["time_left_seconds"] == 4 * 3600 and item["breached"] is False and item["due_at"] == "2026-03-03T16:30:00+08:00"
    assert item["holder"] == {"kind": "community", "code": item["community_code"]} and item["claimed"] is False
    assert _refs(api.get("/api/v1/supervision/at-risk?within_hours=4", headers=auth["lixia-supervisor"]).json()) == {two_cases["lixia"]}

    clock.set(local("2026-03-03 17:00"))  # both breached half a working hour ago
    auth.headers.clear()  # the morning's tokens have expired
    body = api.get("/api/v1/supervision/at-risk?within_hours=0", headers=auth["qingdao-supervisor"]).json()
    assert _refs(body) == {two_cases["qingdao"]}
    item = body["items"][0]
    assert item["breached"] is True and item["time_left_seconds"] == -0.5 * 3600


def test_r12_r21_notification_queues_and_provincial_audit(api, auth, seeded, clock, two_cases):
    _breached(seeded, clock)
    queue = {}
    for user in ("qingdao-supervisor", "lixia-supervisor", "heping-head", "province"):
        r = api.get("/api/v1/supervision/notifications?level=county", headers=auth[user])
        assert r.status_code == 200, r.text
        queue[user] = [(n["kind"], n["recipient_code"]) for n in r.json()]
    assert queue["qingdao-supervisor"] == [("sla_breach", "370202")]
    assert queue["lixia-supervisor"] == [("sla_breach", "370102")]
    assert queue["heping-head"] == []  # a community head is not the county's queue
    assert sorted(queue["province"]) == [("sla_breach", "370102"), ("sla_breach", "370202")]
    head = auth["heping-head"]
    own = api.get("/api/v1/supervision/notifications", headers=head).json()
    assert {(n["recipient_level"], n["recipient_code"]) for n in own} >= {("community_head", "370102001001"), ("issuer", "370102001001")}
    assert all(n["recipient_code"] == "370102001001" for n in own)
    # Reading one's own notification; another region's is not in one's queue.
    first = own[0]["id"]
    r = api.post(f"/api/v1/supervision/notifications/{first}/read", headers=head)
    assert r.status_code == 200 and r.json()["read_at"] == "2026-03-03T16:30:00+08:00"
    assert first not in {n["id"] for n in api.get("/api/v1/supervision/notifications?unread=true", headers=head).json()}
    qingdao_note = api.get("/api/v1/supervision/notifications", headers=auth["qingdao-supervisor"]).json()[0]["id"]
    assert api.post(f"/api/v1/supervision/notifications/{qingdao_note}/read", headers=head).status_code == 404

    # R21: the provincial office's audit queue.
    province = auth["province"]
    body = api.get("/api/v1/supervision/provincial-audit", headers=province).json()
    assert body["total"] == 2 and body["counts"]["by_kind"] == {"breach": 2}
    assert {i["application_id"] for i in body["items"]} == set(two_cases.values())
    assert all(i["closed_at"] is None and "no decision by 2026-03-03 16:30" in i["summary"] for i in body["items"])
    only_qingdao = api.get("/api/v1/supervision/provincial-audit?region=370200&kind=breach&open=true", headers=province).json()
    assert [i["application_id"] for i in only_qingdao["items"]] == [two_cases["qingdao"]]
    assert api.get("/api/v1/supervision/provincial-audit?open=false", headers=province).json()["total"] == 0
    assert api.get("/api/v1/supervision/provincial-audit?kind=DROP%20TABLE", headers=province).status_code == 422
