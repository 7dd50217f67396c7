"""A green pass for the verification tests (API and CLI)."""
from __future__ import annotations

from cases.models import Application, Pass
from cases.services import workflow
from tests.conftest import login
from tests.helpers import example, to_audit


def green_pass(api, seeded, clock) -> dict:
    """A standard case approved by its community issuer: its pass id, card number and token."""
    created = api.post("/api/v1/applications", json=example("standard", clock.now().date())).json()
    task_id = to_audit(seeded, clock, created["id"])
    issuer = login(api, "qingdao-issuer")
    assert api.post(f"/api/v1/audit-tasks/{task_id}/decision", json={"action": "approve"}, headers=issuer).status_code == 200
    with seeded.session() as s:
        workflow.finish(session=s, application=s.get(Application, created["id"]), at=clock.now(), settings=seeded.settings)
        s.commit()
    view = api.get(f"/api/v1/applications/{created['id']}", params={"access_token": created["access_token"]}).json()
    assert view["pass"]["colour"] == "green"
    with seeded.session() as s:
        token = s.get(Pass, view["pass"]["id"]).token
    return {"id": view["pass"]["id"], "card_number": view["pass"]["card_number"], "token": token}


def revoke(api, pass_id: str, reason: str = "re-decided after a complaint") -> None:
    admin = login(api, "admin")
    r = api.post(f"/api/v1/passes/{pass_id}/revoke", json={"reason": reason}, headers=admin)
    assert r.status_code == 200, r.text
