"""The healthpass CLI: clear messages instead of tracebacks; offline verification (R3, R4)."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from ops.cli import app
from tests.helpers import example

runner = CliRunner()


def test_users_create_scoped_issuer_and_clear_errors(seeded):
    ok = runner.invoke(app, ["users", "create", "--role", "issuer", "--username", "new-issuer", "--password", "long-enough-1", "--community", "370102001001"])
    assert ok.exit_code == 0, ok.output
    again = runner.invoke(app, ["users", "create", "--role", "issuer", "--username", "new-issuer", "--password", "long-enough-1", "--community", "370102001001"])
    assert again.exit_code == 2 and "exists already" in again.output and "Traceback" not in again.output
    county = runner.invoke(app, ["users", "create", "--role", "issuer", "--username", "x-issuer", "--password", "long-enough-1", "--community", "370102"])
    assert county.exit_code == 2 and "community (village) code" in county.output


def test_r3_pass_verify_offline_with_a_jwks_file(api, seeded, clock, tmp_path):
    created = api.post("/api/v1/applications", json=example("arrival", clock.now().date())).json()
    view = api.get(f"/api/v1/applications/{created['id']}", params={"access_token": created["access_token"]}).json()
    with seeded.session() as s:
        from cases.models import Pass

        token = s.get(Pass, view["pass"]["id"]).token
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(api.get("/.well-known/jwks.json").json()))
    revocations = tmp_path / "revocations.jws"
    revocations.write_text(api.get("/.well-known/revocations.jws").text)
    online = api.post("/api/v1/checkpoint/verify", json={"qr": token, "temperature": 36.5}).json()
    offline = runner.invoke(app, ["pass", "verify", token, "--temperature", "36.5", "--jwks", str(jwks), "--revocations", str(revocations), "--json"])
    result = json.loads(offline.output)
    assert offline.exit_code == 1  # DENY: the arrival's pass is yellow (R7)
    assert result["result"] == online["result"] == "DENY" and result["reasons"] == online["reasons"] == ["yellow"]
    tampered = runner.invoke(app, ["pass", "verify", token[:-4] + "AAAA", "--temperature", "36.5", "--jwks", str(jwks), "--revocations", str(revocations)])
    assert tampered.exit_code == 1 and "forged" in tampered.output


def test_r14_data_import_reports_rejected_rows(seeded, tmp_path):
    feed = tmp_path / "risk.csv"
    feed.write_text("region,level,from,to\n420106,high,2026-02-20,\n999999,high,2026-02-20,\n420106,extreme,2026-02-20,\n")
    r = runner.invoke(app, ["data", "import", "risk_areas", str(feed)])
    assert r.exit_code == 0, r.output
    assert "1 imported" in r.output and "2 rejected" in r.output and "line 3" in r.output and "line 4" in r.output
    bad = runner.invoke(app, ["data", "import", "risk_areas", str(tmp_path / "missing.csv")])
    assert bad.exit_code == 2 and "cannot read" in bad.output


def test_audit_verify_chain_detects_an_edit(api, seeded, clock):
    api.post("/api/v1/applications", json=example("standard", clock.now().date()))
    assert runner.invoke(app, ["audit", "verify-chain"]).exit_code == 0
    with seeded.session() as s:
        from sqlmodel import select

        from cases.models import CaseEvent

        from tests.helpers import tamper_event

        e = s.exec(select(CaseEvent)).first()
        tamper_event(s, e.id, reason="edited later")
    r = runner.invoke(app, ["audit", "verify-chain"])
    assert r.exit_code == 1 and "altered" in r.output
