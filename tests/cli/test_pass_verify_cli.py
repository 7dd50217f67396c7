"""`healthpass pass verify` offline (R3, R4): never PASS without a fresh signed revocation
list; fetch it from the server when there is one; impossible temperatures are errors."""
from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import uvicorn
from typer.testing import CliRunner

from ops.cli import app
from tests.conftest import _free_port
from tests.verify_support import green_pass, revoke

runner = CliRunner()


def verify(*args: str):
    return runner.invoke(app, ["pass", "verify", *args])


@pytest.fixture
def green(api, seeded, clock):
    return green_pass(api, seeded, clock)


class Live:
    """The API on a real socket in this process (same store, same frozen clock)."""

    def __init__(self):
        from web.main import create_app

        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.srv = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.srv.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.srv.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        self.srv.should_exit = True
        self.thread.join(10)


@pytest.fixture
def live(api):
    server = Live()
    yield server
    server.stop()


def _files(api, tmp_path):
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(api.get("/.well-known/jwks.json").json()))
    signed = tmp_path / "revocations.jws"
    signed.write_text(api.get("/.well-known/revocations.jws").text)
    return str(jwks), str(signed)


def test_r4_revoked_pass_with_only_a_jwks_file_is_not_passed(api, green, tmp_path):
    revoke(api, green["id"])
    jwks, _ = _files(api, tmp_path)
    r = verify(green["token"], "--temperature", "36.5", "--jwks", jwks)
    assert r.exit_code == 2 and "PASS" not in r.output
    assert "no revocation list" in r.output and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_r4_signed_list_file_denies_the_revoked_pass_and_stales(api, seeded, green, clock, tmp_path):
    ok_jwks, ok_list = _files(api, tmp_path)
    assert verify(green["token"], "--temperature", "36.5", "--jwks", ok_jwks, "--revocations", ok_list).exit_code == 0
    revoke(api, green["id"])
    jwks, signed = _files(api, tmp_path)
    r = verify(green["token"], "--temperature", "36.5", "--jwks", jwks, "--revocations", signed, "--json")
    assert r.exit_code == 1 and json.loads(r.output)["reasons"] == ["revoked"]
    # Past next_update the list no longer counts: no decision at all.
    clock.advance(timedelta(minutes=seeded.settings.revocation_list_minutes))
    stale = verify(green["token"], "--temperature", "36.5", "--jwks", jwks, "--revocations", signed)
    assert stale.exit_code == 2 and "stale" in stale.output and "Traceback" not in stale.output


def test_r4_unsigned_or_tampered_lists_are_refused(api, green, tmp_path):
    jwks, signed = _files(api, tmp_path)
    assert verify(green["token"], "--temperature", "36.5", "--jwks", jwks, "--revocations", signed).exit_code == 0
    unsigned = tmp_path / "revoked.json"
    unsigned.write_text(json.dumps(api.get("/api/v1/passes/revocations").json()))
    r = verify(green["token"], "--temperature", "36.5", "--jwks", jwks, "--revocations", str(unsigned))
    assert r.exit_code == 2 and "unsigned" in r.output
    text = Path(signed).read_text()
    forged = tmp_path / "forged.jws"
    forged.write_text(text[:-4] + ("AAAA" if not text.endswith("AAAA") else "BBBB"))
    r = verify(green["token"], "--temperature", "36.5", "--jwks", jwks, "--revocations", str(forged))
    assert r.exit_code == 2 and "signature" in r.output and "Traceback" not in r.output


def test_r4_list_fetched_from_the_server_and_kept_for_offline_use(api, seeded, green, clock, live, tmp_path):
    cache = str(tmp_path / "cache")
    server = live.url
    assert verify(green["token"], "--temperature", "36.5", "--server", server, "--cache-dir", cache).exit_code == 0
    revoke(api, green["id"])
    r = verify(green["token"], "--temperature", "36.5", "--server", server, "--cache-dir", cache, "--json")
    assert r.exit_code == 1 and json.loads(r.output)["reasons"] == ["revoked"]
    # The JWKS URL's server is where the list comes from when no --server is given.
    r = verify(green["token"], "--temperature", "36.5", "--jwks", f"{server}/.well-known/jwks.json", "--cache-dir", cache)
    assert r.exit_code == 1 and "revoked" in r.output
    # The server goes away (the checkpoint is offline): the kept copy decides while it is fresh...
    live.stop()
    clock.advance(timedelta(minutes=seeded.settings.revocation_list_minutes - 1))
    r = verify(green["token"], "--temperature", "36.5", "--server", server, "--cache-dir", cache)
    assert r.exit_code == 1 and "revoked" in r.output and "cached copy" in r.output
    # ...and after its next_update nothing is decided.
    clock.advance(timedelta(minutes=1))
    r = verify(green["token"], "--temperature", "36.5", "--server", server, "--cache-dir", cache)
    assert r.exit_code == 2 and "stale" in r.output and "PASS" not in r.output and "Traceback" not in r.output
    # Never fetched, no copy: no decision either.
    r = verify(green["token"], "--temperature", "36.5", "--server", server, "--cache-dir", str(tmp_path / "empty"))
    assert r.exit_code == 2 and "cannot fetch" in r.output and "Traceback" not in r.output


@pytest.mark.parametrize("bad", ["-5", "-inf", "nan", "inf", "29.9", "45.1", "1e400"])
def test_r4_impossible_temperatures_are_errors_not_pass(api, green, bad):
    r = verify(green["token"], "--temperature", bad)
    assert r.exit_code == 2 and "PASS" not in r.output and "Traceback" not in r.output
    assert "temperature" in r.output.lower()


def test_r4_this_systems_store_decides_superseded_and_revoked(api, green):
    assert verify(green["token"], "--temperature", "36.5").exit_code == 0
    revoke(api, green["id"])
    r = verify(green["token"], "--temperature", "36.5", "--json")
    assert r.exit_code == 1 and json.loads(r.output)["reasons"] == ["revoked"]
