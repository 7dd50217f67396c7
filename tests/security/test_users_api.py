"""Accounts are created by supervisors (issuers of their area) and admins; passwords hashed (R18)."""
from __future__ import annotations

import pytest
from sqlmodel import select

from cases.models import User
from tests.conftest import login


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_r18_supervisor_registers_issuers_of_their_area_only(api, seeded):
    lixia = login(api, "lixia-supervisor")
    body = {"username": "lixia-new-issuer", "password": "a-long-passphrase", "role": "issuer", "community": "370102001001"}
    r = api.post("/api/v1/users", json=body, headers=lixia)
    assert r.status_code == 201 and r.json()["region_code"] == "370102001001" and "password" not in r.text
    elsewhere = {**body, "username": "qingdao-new", "community": "370202001001"}
    assert api.post("/api/v1/users", json=elsewhere, headers=lixia).status_code == 403
    admin_account = {**body, "username": "sneaky-admin", "role": "admin", "community": None}
    assert api.post("/api/v1/users", json=admin_account, headers=lixia).status_code == 403
    assert api.post("/api/v1/users", json={**body, "password": "short"}, headers=lixia).status_code == 422
    assert api.post("/api/v1/users", json=body, headers=lixia).status_code == 409  # exists already
    assert login(api, "lixia-new-issuer", "a-long-passphrase")
    with seeded.session() as s:
        stored = s.exec(select(User).where(User.username == "lixia-new-issuer")).one()
        assert stored.password_hash.startswith("$argon2") and "a-long-passphrase" not in stored.password_hash
    listed = {u["username"] for u in api.get("/api/v1/users", headers=lixia).json()}
    assert "lixia-new-issuer" in listed and "qingdao-issuer" not in listed
