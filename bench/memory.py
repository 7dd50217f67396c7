"""Benchmark 7: API process RSS after 10k requests (uvicorn web.main:app, 1 worker).

The mix: half checkpoint verifies (QR and card number alternating), half reads of a case
(``GET /api/v1/applications/{id}`` with the applicant's access token), against a seeded
SQLite store. RSS from /proc/<pid>/status after start-up, after 200 warm-up requests and
after the 10k. Baseline: the bare FastAPI app (bench/bare_app.py) after the same number
of requests.
"""
from __future__ import annotations

import json
from typing import Any

from bench import loadgen
from bench.common import Server, child_env, free_port, median, rss_mib, seed_store, temp_dir, uvicorn_argv


def _mix(port: int, green: dict) -> list[bytes]:
    verify = "/api/v1/checkpoint/verify"
    return [
        loadgen.build("POST", verify, port=port, body=json.dumps({"qr": green["qr"], "temperature": 36.5}).encode()),
        loadgen.build("GET", f"/api/v1/applications/{green['case_id']}", port=port, headers={"X-Access-Token": green["access_token"]}),
        loadgen.build("POST", verify, port=port, body=json.dumps({"card_number": green["card_number"], "temperature": 36.5}).encode(), headers={"Authorization": green["checkpoint_auth"]}),
        loadgen.build("GET", f"/api/v1/applications/{green['case_id']}", port=port, headers={"X-Access-Token": green["access_token"]}),
    ]


def _one(app: str, env: dict, tmp, green: dict, requests: int) -> dict[str, Any]:
    port = free_port()
    with Server(uvicorn_argv(app, port, 1), env=env, health="/healthz", log=tmp / "memory.log", port=port) as srv:
        started = rss_mib(srv.pid)
        raws = _mix(port, green) if app.startswith("api.") else [loadgen.build("POST", "/api/v1/checkpoint/verify", port=port, body=b'{"qr": "x", "temperature": 36.5}')]
        loadgen.fire(port, (raws * 200)[:200], connections=8)
        warmed = rss_mib(srv.pid)
        res = loadgen.fire(port, (raws * (requests // len(raws) + 1))[:requests], connections=16)
        ok = sum(1 for s, _, _ in res if s == 200)
        return {"start_mib": started, "warm_mib": warmed, "after_mib": rss_mib(srv.pid), "ok": ok, "requests": len(res)}


def run(*, requests: int = 10_000, repeats: int = 3, log=print) -> dict[str, Any]:
    with temp_dir("hp-bench-mem-") as tmp:
        store = seed_store(f"sqlite:///{tmp / 'var' / 'healthpass.db'}", tmp / "var")
        env = child_env(store.env | {"HEALTHPASS_RATE_LIMIT_EXEMPT": "127.0.0.1,::1"})
        api = [_one("web.main:app", env, tmp, store.green, requests) for _ in range(repeats)]
        bare = [_one("bench.bare_app:app", env, tmp, store.green, requests) for _ in range(repeats)]
    out = {
        "requests": requests,
        "after_mib": median([r["after_mib"] for r in api]),
        "warm_mib": median([r["warm_mib"] for r in api]),
        "start_mib": median([r["start_mib"] for r in api]),
        "baseline_after_mib": median([r["after_mib"] for r in bare]),
        "runs": api,
        "baseline_runs": bare,
    }
    log(f"  memory: API RSS {out['start_mib']:.0f} MiB at start, {out['after_mib']:.0f} MiB after {requests:,} requests (bare app {out['baseline_after_mib']:.0f} MiB)")
    return out
