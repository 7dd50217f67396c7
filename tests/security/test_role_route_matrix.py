"""Every route of the OpenAPI schema, called by every role: allowed, 401/403, or 404 without
revealing that the resource exists. A route missing from the table fails the test, so each
new endpoint has to declare who may call it."""
from __future__ import annotations

import pytest

from cases.models import Application, Pass, Role
from cases.seed import DEMO_PASSWORD, create_user
from cases.services import workflow
from tests.conftest import login
from tests.helpers import example

ROLES = ["anonymous", "applicant", "unit", "issuer", "issuer_other", "supervisor", "supervisor_other", "auditor", "checkpoint", "admin", "hotline"]
DENIED = {401, 403, 404}
EVERYONE = set(ROLES)
STAFF_READERS = {"issuer", "supervisor", "auditor", "admin"}

# (method, path, allowed roles, request kwargs builder)
MATRIX = {
    ("GET", "/healthz"): EVERYONE,
    ("POST", "/api/v1/auth/token"): EVERYONE,
    ("POST", "/api/v1/applications"): EVERYONE,
    ("GET", "/api/v1/applications/{case_id}"): {"applicant"} | STAFF_READERS,
    ("GET", "/api/v1/applications/{case_id}/personal-data"): {"issuer", "auditor"},
    ("GET", "/api/v1/audit-tasks"): {"issuer", "issuer_other"},  # each sees their own queue
    ("GET", "/api/v1/audit-tasks/counts"): {"issuer", "issuer_other"},  # each counts their own queue
    ("POST", "/api/v1/audit-tasks/{task_id}/claim"): {"issuer"},
    ("POST", "/api/v1/audit-tasks/{task_id}/decision"): {"issuer"},
    ("POST", "/api/v1/audit-tasks/{task_id}/reassign"): {"issuer", "supervisor"},
    ("POST", "/api/v1/issuers/sign-in"): {"issuer", "issuer_other"},
    ("GET", "/api/v1/roster/gaps"): {"supervisor", "supervisor_other", "auditor"},
    ("GET", "/.well-known/jwks.json"): EVERYONE,
    ("GET", "/.well-known/revocations.jws"): EVERYONE,
    ("GET", "/api/v1/passes/{pass_id}/qr.png"): {"applicant"} | STAFF_READERS,
    ("GET", "/api/v1/passes/{pass_id}/card"): {"applicant"} | STAFF_READERS,
    ("POST", "/api/v1/checkpoint/verify"): {"checkpoint"},  # with a typed card number (the matrix's body); a QR is for EVERYONE (tests/api/test_checkpoint_login.py)
    ("GET", "/api/v1/passes/revocations"): EVERYONE,
    ("POST", "/api/v1/passes/{pass_id}/revoke"): {"supervisor", "auditor", "admin"},
    ("GET", "/api/v1/supervision/breaches"): {"supervisor", "supervisor_other", "auditor"},
    ("GET", "/api/v1/supervision/breaches.csv"): {"supervisor", "supervisor_other", "auditor"},
    ("GET", "/api/v1/supervision/at-risk"): {"supervisor", "supervisor_other", "auditor"},
    ("GET", "/api/v1/supervision/notifications"): {"supervisor", "supervisor_other", "auditor"},
    ("POST", "/api/v1/supervision/notifications/{notification_id}/read"): {"supervisor", "auditor"},
    ("GET", "/api/v1/supervision/provincial-audit"): {"auditor"},
    ("GET", "/api/v1/supervision/open-work/summary"): {"supervisor", "supervisor_other", "auditor"},
    ("GET", "/api/v1/supervision/open-work"): {"supervisor", "supervisor_other", "auditor"},
    ("GET", "/api/v1/supervision/open-work.csv"): {"supervisor", "supervisor_other", "auditor"},
    ("GET", "/api/v1/supervision/responsibility"): {"supervisor", "supervisor_other", "auditor"},
    ("GET", "/api/v1/supervision/responsibility.csv"): {"supervisor", "supervisor_other", "auditor"},
    ("GET", "/api/v1/supervision/auto-issues"): {"supervisor", "supervisor_other", "auditor"},
    ("GET", "/api/v1/supervision/auto-issues.csv"): {"supervisor", "supervisor_other", "auditor"},
    ("GET", "/api/v1/supervision/roster-gaps"): {"supervisor", "supervisor_other", "auditor"},
    ("GET", "/api/v1/supervision/roster-gaps.csv"): {"supervisor", "supervisor_other", "auditor"},
    ("GET", "/api/v1/supervision/trends"): {"supervisor", "supervisor_other", "auditor"},
    ("GET", "/api/v1/supervision/trends.csv"): {"supervisor", "supervisor_other", "auditor"},
    ("GET", "/api/v1/rules"): EVERYONE,
    ("GET", "/api/v1/directory"): EVERYONE,
    ("POST", "/api/v1/applications/{case_id}/reports"): {"applicant"},
    ("POST", "/api/v1/applications/{case_id}/supplement"): {"applicant"},
    ("POST", "/api/v1/applications/{case_id}/supplement/files"): {"applicant"},
    ("GET", "/api/v1/applications/{case_id}/attachments/{attachment_id}"): {"applicant"} | STAFF_READERS,
    ("PUT", "/api/v1/applications/{case_id}/declaration"): {"applicant"},
    ("GET", "/api/v1/applications/{case_id}/observation"): {"applicant"} | STAFF_READERS,
    ("POST", "/api/v1/observation/{case_id}/abnormal/{report_id}/outcome"): {"issuer"},
    ("GET", "/api/v1/observation/abnormal-reports"): {"issuer", "issuer_other", "supervisor", "supervisor_other", "auditor", "admin"},  # R8, each in their area
    ("POST", "/api/v1/units/applications"): {"unit"},
    ("POST", "/api/v1/units/applications.csv"): {"unit"},
    ("POST", "/api/v1/units/refusals"): {"unit"},
    ("POST", "/api/v1/users"): {"supervisor", "admin"},
    ("GET", "/api/v1/users"): {"supervisor", "supervisor_other", "admin"},
    # R23: the provincial office and city supervisors read (a city its own row); the office sets
    # obligations; a city supervisor reports for their city (supervisor_other is a county's).
    ("GET", "/api/v1/reporting/obligations"): {"supervisor", "auditor", "admin"},
    ("GET", "/api/v1/reporting/obligations.csv"): {"supervisor", "auditor", "admin"},
    ("POST", "/api/v1/reporting/obligations"): {"auditor", "admin"},
    ("GET", "/api/v1/reporting/obligations/{obligation_id}"): {"supervisor", "auditor", "admin"},
    ("GET", "/api/v1/reporting/obligations/{obligation_id}.csv"): {"supervisor", "auditor", "admin"},
    ("POST", "/api/v1/reporting/obligations/{obligation_id}/reports"): {"supervisor"},
    # Supervisors' actions (issue 13): the staff view of a case and its actions, scoped (404 outside).
    ("GET", "/api/v1/staff/cases/{case_id}"): {"supervisor", "auditor", "admin"},
    ("POST", "/api/v1/staff/cases/{case_id}/reassign"): {"supervisor"},
    ("POST", "/api/v1/staff/cases/{case_id}/nudge"): {"supervisor"},
    ("POST", "/api/v1/staff/cases/{case_id}/decision"): {"supervisor"},
    ("POST", "/api/v1/staff/cases/{case_id}/revoke-pass"): {"supervisor", "auditor", "admin"},
    ("GET", "/api/v1/staff/notifications"): {"supervisor", "supervisor_other", "auditor", "admin"},
    ("GET", "/api/v1/staff/notifications.csv"): {"supervisor", "supervisor_other", "auditor", "admin"},
    ("POST", "/api/v1/staff/notifications/{notification_id}/acknowledge"): {"supervisor", "auditor", "admin"},
    ("GET", "/api/v1/staff/nudges"): {"issuer", "issuer_other"},
    # R20: the directory's upkeep (the county's own supervisor edits; supervisors of other areas see theirs)
    ("GET", "/api/v1/directory/changes"): {"supervisor", "supervisor_other", "auditor", "admin"},
    ("GET", "/api/v1/directory/changes.csv"): {"supervisor", "supervisor_other", "auditor", "admin"},
    # Only the county's own supervisor edits (tests/public); this world's supervisors are a city's and another county's.
    ("PUT", "/api/v1/directory/{region_code}"): {"admin"},
    # R20: complaints (anyone files; the complainant reads with the token; handlers in their area)
    ("POST", "/api/v1/complaints"): EVERYONE,
    ("POST", "/api/v1/hotline/complaints"): {"hotline"},
    ("GET", "/api/v1/complaints"): {"supervisor", "supervisor_other", "auditor", "hotline", "admin"},
    ("GET", "/api/v1/complaints.csv"): {"supervisor", "supervisor_other", "auditor", "hotline", "admin"},
    ("GET", "/api/v1/complaints/{reference}"): {"applicant", "supervisor", "auditor", "hotline", "admin"},
    ("POST", "/api/v1/complaints/{reference}/close"): {"supervisor", "auditor", "hotline", "admin"},
    # the provincial office (R21, R22): auditors and admins only
    ("GET", "/api/v1/province/audit-items"): {"auditor", "admin"},
    ("GET", "/api/v1/province/audit-items.csv"): {"auditor", "admin"},
    ("GET", "/api/v1/province/audit-items/{item_id}"): {"auditor", "admin"},
    ("POST", "/api/v1/province/audit-items/{item_id}/claim"): {"auditor", "admin"},
    ("POST", "/api/v1/province/audit-items/{item_id}/outcome"): {"auditor", "admin"},
    ("POST", "/api/v1/province/audit-items/{item_id}/reopen"): {"auditor", "admin"},
    ("GET", "/api/v1/province/league"): {"auditor", "admin"},
    ("GET", "/api/v1/province/league.csv"): {"auditor", "admin"},
    ("GET", "/api/v1/province/thresholds"): {"auditor", "admin"},
    ("GET", "/api/v1/province/thresholds.csv"): {"auditor", "admin"},
    # lost case link: anyone asks for a code and trades it for a fresh link (cases/recovery)
    ("POST", "/api/v1/recovery/request"): EVERYONE,
    ("POST", "/api/v1/recovery/verify"): EVERYONE,
    # R17: a unit reads its own cases and refusals
    ("GET", "/api/v1/units/refusals"): {"unit"},
    ("GET", "/api/v1/units/cases"): {"unit"},
    ("GET", "/api/v1/units/cases.csv"): {"unit"},
    # administration: admins only (the target account is the world's "matrix-target")
    ("POST", "/api/v1/admin/users/{user_id}/disable"): {"admin"},
    ("POST", "/api/v1/admin/users/{user_id}/enable"): {"admin"},
    ("POST", "/api/v1/admin/users/{user_id}/password"): {"admin"},
    ("GET", "/api/v1/admin/calendar"): {"admin"},
    ("POST", "/api/v1/admin/calendar/import"): {"admin"},
    ("PUT", "/api/v1/admin/calendar/days/{day}"): {"admin"},
    ("GET", "/api/v1/admin/keys"): {"admin"},
    ("POST", "/api/v1/admin/keys/rotate"): {"admin"},
}
# Routes whose allowed callers may still get 404/409 because the sample resource is in the wrong state.
SOFT_404 = {
    ("GET", "/api/v1/province/audit-items/{item_id}"), ("POST", "/api/v1/province/audit-items/{item_id}/claim"),
    ("POST", "/api/v1/province/audit-items/{item_id}/outcome"), ("POST", "/api/v1/province/audit-items/{item_id}/reopen"),
    ("POST", "/api/v1/complaints/{reference}/close"),
    ("POST", "/api/v1/audit-tasks/{task_id}/reassign"), ("POST", "/api/v1/observation/{case_id}/abnormal/{report_id}/outcome"), ("POST", "/api/v1/supervision/notifications/{notification_id}/read"),
    # the world's case is not escalated (decision: 409) and may have no notification yet
    ("POST", "/api/v1/staff/cases/{case_id}/decision"), ("POST", "/api/v1/staff/notifications/{notification_id}/acknowledge"),
    # no file was sent on the world's case
    ("GET", "/api/v1/applications/{case_id}/attachments/{attachment_id}"),
}


@pytest.fixture
def world(api, seeded, clock):
    """A Qingdao arrival (yellow pass, observing) and every role's credentials."""
    with seeded.session() as s:
        create_user(s, username="qingdao-supervisor", password=DEMO_PASSWORD, role=Role.supervisor, at=clock.now(), region="370200")
        target_id = create_user(s, username="matrix-target", password=DEMO_PASSWORD, role=Role.checkpoint, at=clock.now()).id
        s.commit()
    body = {**example("arrival", clock.now().date()), "community_code": "370202001001", "unit_code": None}
    case = api.post("/api/v1/applications", json=body).json()
    with seeded.session() as s:
        app = s.get(Application, case["id"])
        workflow.declare(session=s, application=app, at=clock.now())
        workflow.compare(session=s, application=app, at=clock.now(), settings=seeded.settings, accept_incomplete=True)
        app.status = "compared"
        task = workflow.assign_audit(session=s, application=app, at=clock.now(), settings=seeded.settings)
        s.commit()
        pass_id = s.exec(__import__("sqlmodel").select(Pass.id)).first()
    users = {"unit": "unit-hr", "issuer": "qingdao-issuer", "issuer_other": "heping-issuer", "supervisor": "qingdao-supervisor",
             "supervisor_other": "lixia-supervisor", "auditor": "province", "checkpoint": "checkpoint", "admin": "admin", "hotline": "hotline"}
    headers = {role: login(api, name) for role, name in users.items()}
    headers["anonymous"] = {}
    # R20: a complaint about the Qingdao community; the "applicant" here is its complainant (token).
    complaint = api.post("/api/v1/complaints", json={"category": "delayed", "region_code": "370202001001", "description": "No answer for three days now."}).json()
    headers["applicant"] = {"X-Access-Token": case["access_token"]}
    ids = {"reference": complaint["reference"], "complaint_token": complaint["access_token"], "region_code": "370202001001", "case_id": case["id"], "task_id": task["task_id"], "pass_id": pass_id, "report_id": "1", "attachment_id": "0" * 32, "notification_id": "1", "obligation_id": "1", "item_id": "1", "user_id": target_id, "day": "2026-03-07"}
    return headers, ids, clock.now().date()


def _request(method: str, path: str, ids: dict, today, role: str) -> dict:
    url = path.format(**ids)
    kw: dict = {"params": {}}
    if path.endswith("/personal-data"):
        kw["params"]["reason"] = "verify the applicant's address by phone"
    if path.startswith("/api/v1/complaints/{reference}") and role == "applicant":
        kw["headers"] = {"X-Access-Token": ids["complaint_token"]}
    if path == "/api/v1/auth/token":
        kw["data"] = {"username": "checkpoint", "password": DEMO_PASSWORD}
    elif path == "/api/v1/applications":
        kw["json"] = {**example("standard", today), "id_number": "370102198001010016" if role != "anonymous" else "370102198001010032", "phone": "13800000001"}
    elif path.endswith("/staff/cases/{case_id}/decision"):
        kw["json"] = {"action": "approve"}
    elif path.endswith("/nudge"):
        kw["json"] = {"note": "matrix test"}
    elif path.endswith("/revoke-pass"):
        kw["json"] = {"reason": "matrix test revocation"}
    elif path.endswith("/reassign"):
        kw["json"] = {"to_username": None}
    elif path.endswith("/decision"):
        kw["json"] = {"action": "verify_contact", "contact_method": "phone", "explanation": "Called the applicant."}
    elif path == "/api/v1/checkpoint/verify":
        kw["json"] = {"card_number": "SD-0000-0000-0000-0", "temperature": 36.5}
    elif path.endswith("/revoke"):
        kw["json"] = {"reason": "matrix test revocation"}
    elif path.endswith("/declaration"):
        kw["json"] = {**example("arrival", today), "community_code": "370202001001", "unit_code": None, "address": "amended address 1"}
    elif path.endswith("/supplement/files"):
        kw["data"] = {"items": '{"arrival ticket": "G1234"}', "file_item": ["arrival ticket"]}
        kw["files"] = {"file": ("ticket.pdf", b"%PDF-1.4 matrix", "application/pdf")}
    elif path.endswith("/supplement"):
        kw["json"] = {"items": {"arrival ticket": "G1234"}}
    elif path == "/api/v1/reporting/obligations/{obligation_id}/reports":
        kw["json"] = {"status": "implemented", "implementation": "matrix", "city_numbers": ["0532-12345"], "county_numbers": {}}
    elif path == "/api/v1/reporting/obligations" and method == "POST":
        kw["json"] = {"title": f"matrix {role}", "due": "2026-03-31"}
    elif path.endswith("/reports"):
        kw["json"] = {"temperature": 36.5, "symptoms": [], "location_confirmed": True}
    elif path.startswith("/api/v1/province/") and path.endswith("/outcome"):
        kw["json"] = {"outcome": "justified", "note": "matrix test: the record backs the decision"}
    elif path.endswith("/reopen"):
        kw["json"] = {"note": "matrix test: re-open"}
    elif path.endswith("/outcome"):
        kw["json"] = {"outcome": "Visited: temperature normal again."}
    elif path == "/api/v1/units/applications":
        kw["json"] = []
    elif path == "/api/v1/units/applications.csv":
        kw["files"] = {"file": ("employees.csv", b"kind,name\n", "text/csv")}
    elif path == "/api/v1/users":
        kw["json"] = {"username": f"new-{role}", "password": "a-long-passphrase", "role": "issuer", "community": "370202001001"}
    elif path in ("/api/v1/complaints", "/api/v1/hotline/complaints"):
        kw["json"] = {"category": "rude", "region_code": "370202", "description": f"matrix test complaint by {role}"}
    elif path == "/api/v1/directory/{region_code}":
        kw["json"] = {"phone": "0532-80000000"}
    elif path.endswith("/close"):
        kw["json"] = {"response": f"Answered by {role} in the matrix test."}
    elif path == "/api/v1/recovery/request":
        kw["json"] = {"reference": "HP20260303-ZZZZ-ZZZZ", "id_type": "resident_id", "id_number": "370202198511200113", "name": "王强"}
    elif path == "/api/v1/recovery/verify":
        kw["json"] = {"challenge": "unknown", "code": "123456"}
    elif path == "/api/v1/admin/users/{user_id}/password":
        kw["json"] = {}
    elif path == "/api/v1/admin/calendar/import":
        kw["files"] = {"file": ("2027.txt", "year 2027\n2027-01-01 holiday 元旦\n".encode(), "text/plain")}
    elif path == "/api/v1/admin/calendar/days/{day}":
        kw["json"] = {"working": False, "note": "matrix test"}
    elif path == "/api/v1/units/refusals" and method == "POST":
        kw["json"] = {"employee_name": "张三", "reason": "He left the company on 1 March and no longer works here."}
    return {"method": method, "url": url, **kw}


# Authorisation does not depend on the database kind: SQLite alone keeps the suite fast.
@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_every_route_is_in_the_matrix(api):
    routes = {(m.upper(), p) for p, ops in api.get("/openapi.json").json()["paths"].items() for m in ops}
    assert routes == set(MATRIX), f"undeclared: {routes - set(MATRIX)}; stale: {set(MATRIX) - routes}"


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_role_route_matrix(api, world):
    """One world, every route, every role (one test: the world costs a seed and eight logins)."""
    headers, ids, today = world
    failures = []
    for route in sorted(MATRIX):
        method, path = route
        for role in ROLES:
            request = _request(method, path, ids, today, role)
            r = api.request(headers={**headers[role], **request.pop("headers", {})}, **request)
            soft = {404, 409} if route in SOFT_404 else set()
            if r.status_code >= 500:
                failures.append(f"{method} {path} as {role}: {r.status_code}")
            elif role in MATRIX[route] and r.status_code in DENIED - soft:
                failures.append(f"{method} {path} as {role}: refused {r.status_code} {r.text[:120]}")
            elif role not in MATRIX[route] and r.status_code not in DENIED:
                failures.append(f"{method} {path} as {role}: allowed {r.status_code} {r.text[:120]}")
    assert not failures, "\n".join(failures)
