"""Smoke tests: each benchmark function runs with tiny sizes and returns its figures.
No timing assertions (timings belong in `make bench`, never in tests)."""
from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from tests.conftest import _pg_available


def _num(x) -> bool:
    return isinstance(x, (int, float)) and not math.isnan(x) and x >= 0


@pytest.fixture(autouse=True)
def _restore_env(monkeypatch):
    """The benchmarks point HEALTHPASS_* at their throwaway stores; give the suite its own back."""
    for name in ("HEALTHPASS_DATABASE_URL", "HEALTHPASS_DATA_DIR", "HEALTHPASS_PREFECT_API_URL"):
        monkeypatch.setenv(name, os.environ.get(name, ""))
        if not os.environ.get(name):
            monkeypatch.delenv(name)
    yield
    from cases import db, settings
    from cases.services import passes

    settings.get_settings.cache_clear()
    db.reset_engine()
    passes.keystore.cache_clear()


def test_sla_due_bench_runs():
    from bench import sla_due

    r = sla_due.run(n=500, repeats=3, log=lambda *_: None)
    assert _num(r["per_s"]) and _num(r["baseline_per_s"]) and len(r["runs"]) == 3


def test_verify_inproc_bench_runs():
    from bench import verify_inproc

    r = verify_inproc.run(n=50, repeats=3, log=lambda *_: None)
    for key in ("raw_per_s", "decide_per_s", "decide_ratio", "store_qr_per_s", "store_card_per_s", "store_qr_ratio"):
        assert _num(r[key]), key


def test_application_bodies_are_valid_and_distinct():
    from datetime import date
    import random

    from cases.declaration_schema import ApplicationCreate
    from cases.simulate import application_body

    today = date(2026, 3, 3)
    rng = random.Random(3)
    ids = set()
    for seq, kind in enumerate(["standard", "arrival"] * 20):
        body = application_body(1_000 + seq * 7919, today=today, kind=kind, community="370102001001", county="370102", rng=rng)
        payload = ApplicationCreate.model_validate(body, context={"today": today})
        ids.add(payload.id_number)
    assert len(ids) == 40


def test_loadgen_and_report_on_the_bare_app(tmp_path):
    from bench import loadgen
    from bench.common import Server, child_env, free_port, uvicorn_argv
    from bench.report import write

    port = free_port()
    with Server(uvicorn_argv("bench.bare_app:app", port), env=child_env(), health="/healthz", log=tmp_path / "bare.log", port=port):
        raw = [loadgen.build("POST", "/api/v1/checkpoint/verify", port=port, body={"qr": "x", "temperature": 36.5})]
        closed = loadgen.closed_loop(port, raw, connections=2, duration=0.3, warmup=0.1)
        opened = loadgen.open_loop(port, raw, rate=50, duration=0.3, warmup=0.1)
        fired = loadgen.fire(port, raw * 3, connections=2)
    assert closed.requests > 0 and closed.statuses.get(200) == closed.requests
    assert opened.requests > 0 and _num(opened.pct(99))
    assert [s for s, _, _ in fired] == [200, 200, 200]
    doc = {"machine": {"cpu": "test"}, "benchmarks": {"sla": {"per_s": 1.0, "baseline_per_s": 2.0, "n": 1, "runs": [1, 1, 1]}}, "last_run": {}}
    write(doc, tmp_path / "B.md")
    text = (tmp_path / "B.md").read_text()
    assert "| what | target | measured" in text and "not run" in text


def test_report_says_which_run_the_machine_calibration_comes_from(tmp_path):
    """The calibration line is the `verify` benchmark's: after an `--only intake` run it must name
    the verify run's date, not read as this run's speed."""
    import json

    from bench.report import write

    verify = json.loads((Path(__file__).parents[2] / "bench" / "results.json").read_text())["benchmarks"].get("verify")
    if not verify:
        pytest.skip("no verify results in bench/results.json")
    verify = verify | {"measured_at": "2026-11-27T16:52:38+00:00"}
    for selected, expected in ((["intake"], "calibration (the `verify` run of 2026-11-27T16:52:38+00:00)"), (["verify"], "calibration (this run)")):
        doc = {"machine": {"cpu": "test"}, "benchmarks": {"verify": verify}, "last_run": {"selected": selected}}
        write(doc, tmp_path / "B.md")
        assert expected in (tmp_path / "B.md").read_text()


def test_report_read_back_from_results_json_keeps_the_per_limit_rows():
    """BENCHMARKS.md is written from bench/results.json, where the worker limits are string keys:
    the row comparing the per-run suspension observer with the worker's one must still appear."""
    import json

    from bench.report import rows

    doc = json.loads((Path(__file__).parents[2] / "bench" / "results.json").read_text())
    if not (doc["benchmarks"].get("intake") or {}).get("per_run_observer"):
        pytest.skip("no intake results with the observer A/B in bench/results.json")
    cut = [r for r in rows(doc) if r[0].startswith("the cut")]
    assert cut and "applications/s" in cut[0][2]


def test_report_gives_prefects_own_floor_beside_the_0_4_target():
    """Issue 15's ≥ 0.4 × row says what the naive 3-task flow, called Prefect's cheapest way, costs
    the server net of its idle services, and the rate that leaves on 2 cores against the baseline."""
    from bench.report import prefect_floor, rows

    naive = {"per_s": 0.8, "server_cpu_ms": 265.0, "server_idle_cpu_ms_per_s": 28.0, "pg_cpu_ms": 25.0, "client_cpu_ms": 110.0,
             "requests_per_run": 8.6, "events_per_run": 10.0, "runs": [{}]}
    c8 = {"per_s": 2.7, "client_cpu_ms": 149.0, "server_cpu_ms": 341.0, "pg_cpu_ms": 43.0, "requests_per_app": 16.0, "events_per_app": 12.0}
    intake = {"n": 48, "intake": {8: c8}, "baseline_per_s": 29.4, "baseline_cpu_ms": 26.0, "naive": naive, "naive_per_s": 0.8}
    floor = prefect_floor(intake)
    # 28 ms/s of idle services over a run's 1.25 s; 230 + 25 + 110 = 365 CPU-ms: 2000 / 365 = 5.5 runs/s = 0.19 x of 29.4/s.
    assert round(floor["idle_ms"]) == 35 and round(floor["server_ms"]) == 230
    assert round(floor["per_s"], 1) == 5.5 and round(floor["ratio"], 2) == 0.19
    row = next(r for r in rows({"benchmarks": {"intake": intake}}) if r[1] == "≥ 0.4 ×")
    assert "at most 5.5 runs/s = **0.19 ×**" in row[5] and "230 CPU-ms per run" in row[5]
    # Without the naive figures (an older results.json) the row stands as it was.
    assert prefect_floor({"naive": {"per_s": 0.8, "client_cpu_ms": 1.0}, "baseline_per_s": 29.4}) is None


@pytest.mark.slow
def test_http_verify_bench_runs():
    from bench import http_verify

    r = http_verify.run(repeats=3, duration=1, paced_duration=0.5, rate=50, workers=(1,), diagnose=False, log=lambda *_: None)
    assert _num(r["results"]["verify/qr/w1"]["rps"]) and _num(r["results"]["bare/paced/w1"]["p99_ms"])


@pytest.mark.slow
def test_memory_bench_runs():
    from bench import memory

    r = memory.run(requests=40, repeats=3, log=lambda *_: None)
    assert _num(r["after_mib"]) and r["runs"][0]["ok"] == 40


@pytest.mark.postgres
def test_sweep_bench_runs():
    if not _pg_available():
        pytest.skip("PostgreSQL not reachable")
    from bench import sweep

    r = sweep.run(sizes=(50, 150), big=None, due=10, repeats=3, log=lambda *_: None)
    assert set(r["sizes"]) == {50, 150}
    assert "FROM slatimer" in r["plan"] and "Execution Time" in r["plan"]  # tiny tables may be scanned: the index shows at scale
    assert all(_num(v["none_s"]) for v in r["sizes"].values())


@pytest.mark.slow
@pytest.mark.postgres
def test_intake_bench_runs():
    if not _pg_available():
        pytest.skip("PostgreSQL not reachable")
    from bench import intake

    r = intake.run(concurrencies=(4,), n=2, repeats=3, post_rate=5.0, post_seconds=0.5, profile=False, naive_limits=(2,), log=lambda *_: None)
    c = r["intake"][4]
    assert c["all_reached_queue"] and _num(c["per_s"]) and c["requests_per_app"] > 0
    assert _num(r["baseline_per_s"]) and _num(r["post"]["busy"]["p99_ms"])
    # Both naive baselines ran to Completed (the served one through Prefect's process worker).
    assert _num(r["naive_per_s"]) and _num(r["naive_served"]["per_s"]) and r["naive_served"]["worker_cpu_ms"] > 0
    # The naive flow called in-process: what each run costs the Prefect server, measured beside it.
    assert r["naive"]["server_cpu_ms"] > 0 and r["naive"]["server_idle_cpu_ms_per_s"] is not None
    # The A/B of the worker's one suspension observer: the per-run variant ran its runs to Completed too.
    assert r["per_run_observer"]["all_completed"] and _num(r["per_run_observer"]["per_s"])


@pytest.mark.slow
def test_simulator_drives_the_public_api(tmp_path, monkeypatch):
    """Against an API whose Prefect is down: arrivals get yellow passes that checkpoints scan
    (DENY yellow), standard cases wait in the store; the summary says so."""
    from bench.common import Server, child_env, free_port, seed_store, uvicorn_argv
    import cases.simulate as sim

    monkeypatch.setattr(sim, "SETTLE_SECONDS", 2.0)
    store = seed_store(f"sqlite:///{tmp_path / 'var' / 'healthpass.db'}", tmp_path / "var", green_pass=False)
    port = free_port()
    with Server(uvicorn_argv("web.main:app", port), env=child_env(store.env), health="/healthz", log=tmp_path / "api.log", port=port):
        result = sim.simulate(base_url=f"http://127.0.0.1:{port}", applications=8, rate=20, issuers_late_share=0.5, seed=4, progress=False)
    a = result["applications"]
    assert a["accepted"] == 8 and sum(a["by_kind"].values()) == 8 and a["by_city"]
    assert result["audit"]["reached_queue"] == 0  # no dispatcher, no Prefect: nothing reaches a queue
    arrivals = a["by_kind"].get("arrival", 0)
    assert result["passes"].get("yellow", 0) == arrivals
    assert result["checkpoint"]["PASS"] == 0 and result["checkpoint"]["unexpected"] == 0
    assert result["checkpoint"]["scans"] == arrivals * sim.SCANS_PER_PASS


@pytest.mark.postgres
def test_supervision_bench_runs():
    if not _pg_available():
        pytest.skip("PostgreSQL not reachable")
    from bench import supervision
    from bench.report import rows

    r = supervision.run(n=300, repeats=2, log=lambda *_: None)
    assert set(r["calls"]) == set(supervision.CALLS)
    assert all(_num(c["p95_ms"]) for c in r["calls"].values())
    assert r["calls"]["summary"]["total"] > 0  # open work was found in the city
    assert "GROUP BY" in r["plan"] and "Execution Time" in r["plan"]
    table = rows({"benchmarks": {"supervision": r}})
    assert any("supervisor dashboard" in row[0] and "p95" in row[2] for row in table)
@pytest.mark.skipif(not _pg_available(), reason="PostgreSQL not reachable")
def test_trends_bench_runs():
    from bench import trends

    r = trends.run(n=1_000, days=7, requests=3, log=lambda *_: None)
    for key in ("day_p95_ms", "week_p95_ms", "csv_p95_ms", "rollup_ms_per_day_median"):
        assert _num(r[key]), key
    assert r["decided_in_12_weeks"] > 0 and "Index" in r["explain_rollup_decisions"]


@pytest.mark.slow
@pytest.mark.postgres
def test_embedded_bench_runs_make_run_on_sqlite_and_on_postgresql():
    if not _pg_available():
        pytest.skip("PostgreSQL not reachable")
    from bench import embedded

    r = embedded.run(n=2, clients=2, log=lambda *_: None)
    for setup in ("embedded", "postgres"):
        assert r[setup]["n"] == 2 and _num(r[setup]["per_s"]) and r[setup]["per_s"] > 0 and _num(r[setup]["post_p99_ms"])
    assert _num(r["ratio"])
