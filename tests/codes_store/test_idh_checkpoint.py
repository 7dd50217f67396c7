"""The checkpoint checks an ID document against a pass through its per-pass ``idh`` (API and
CLI), for the QR and the typed card number alike (R3); passes of one person stay unlinkable."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from ops.cli import app
from cases.models import Pass
from tests.conftest import login
from tests.helpers import example

runner = CliRunner()
ARRIVAL_ID = "370102199003070024"  # Li Na, the arrival example's person
OTHER_ID = "370202198511200113"


def arrival_pass(api, seeded, clock) -> Pass:
    created = api.post("/api/v1/applications", json=example("arrival", clock.now().date())).json()
    view = api.get(f"/api/v1/applications/{created['id']}", params={"access_token": created["access_token"]}).json()
    with seeded.session() as s:
        return s.get(Pass, view["pass"]["id"])


def verify(api, **body) -> dict:
    # A typed card number needs the checkpoint operator's sign-in; a QR does not.
    headers = login(api, "checkpoint") if "card_number" in body else {}
    r = api.post("/api/v1/checkpoint/verify", json={"temperature": 36.5, **body}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_r4_checkpoint_api_says_whether_the_id_document_matches_the_pass(api, seeded, clock):
    p = arrival_pass(api, seeded, clock)
    typed = f"{ARRIVAL_ID[:6]} {ARRIVAL_ID[6:14]} {ARRIVAL_ID[14:]}".lower()
    for way in ({"qr": p.token}, {"card_number": p.card_number}):
        assert verify(api, **way, id_number=typed)["id_match"] is True
        assert verify(api, **way, id_number=OTHER_ID)["id_match"] is False
        assert verify(api, **way)["id_match"] is None  # not asked
    # The decision itself is unchanged by the check (yellow is denied, R7).
    assert verify(api, qr=p.token, id_number=ARRIVAL_ID)["reasons"] == ["yellow"]
    # A forged pass tells nothing about any document.
    assert verify(api, qr=p.token[:-4] + "AAAA", id_number=ARRIVAL_ID)["id_match"] is None


def test_r4_checkpoint_id_number_is_checked_as_a_field(api, seeded, clock):
    p = arrival_pass(api, seeded, clock)
    r = api.post("/api/v1/checkpoint/verify", json={"qr": p.token, "temperature": 36.5, "id_number": "1" * 65})
    assert r.status_code == 422 and "id_number" in r.text


def test_r4_cli_pass_verify_checks_the_id_document(api, seeded, clock):
    p = arrival_pass(api, seeded, clock)
    same = runner.invoke(app, ["pass", "verify", p.token, "--temperature", "36.5", "--id-number", ARRIVAL_ID, "--json"])
    other = runner.invoke(app, ["pass", "verify", p.token, "--temperature", "36.5", "--id-number", OTHER_ID])
    assert json.loads(same.output)["id_match"] is True
    assert "does NOT match" in other.output and "Traceback" not in other.output


def test_r2_idh_of_two_passes_of_one_person_differ_and_are_not_the_store_hash(api, seeded, clock):
    from datetime import timedelta

    from sqlmodel import select

    from cases.models import Applicant, Application
    from tests.codes_store.test_legacy_import import claims_of

    first = arrival_pass(api, seeded, clock)
    clock.advance(timedelta(days=20))  # the first case is long past; a new arrival of the same person
    with seeded.session() as s:
        app_row = s.get(Application, first.application_id)
        app_row.status = "completed"
        s.add(app_row)
        s.commit()
    second = arrival_pass(api, seeded, clock)
    assert second.id != first.id
    with seeded.session() as s:
        store_hash = s.exec(select(Applicant.id_hash)).all()
    idh = {claims_of(first.token)["idh"], claims_of(second.token)["idh"]}
    assert len(idh) == 2 and not idh & set(store_hash)
