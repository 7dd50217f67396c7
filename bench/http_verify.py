"""Benchmark 3: checkpoint verify over HTTP (uvicorn web.main:app, 1 and 2 workers).

The store is a seeded SQLite file in a temp HEALTHPASS_DATA_DIR with one real green pass;
HEALTHPASS_PREFECT_API_URL points at a dead port (verify must not need Prefect). The
server runs with the command line `healthpass serve` uses (ops/cli.py uvicorn_argv). The
baseline is bench/bare_app.py: the same path and body model, returning a constant,
under the same uvicorn settings. Throughput: wrk (closed loop, 1 thread, 32
connections) when installed, else bench.loadgen's closed loop; with the server's CPU-ms
per request. Latency at a fixed offered rate (500 req/s): bench.loadgen's open loop
(wrk2 is not packaged here), with what the shared cores did to it: the generator's own
lateness and how long the server's and the generator's threads waited for a CPU.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from bench import loadgen
from bench.common import Server, child_env, descendants, free_port, median, percentile, runqueue_wait_seconds, runqueue_waits, seed_store, temp_dir, tree_cpu_seconds, uvicorn_argv

PATH = "/api/v1/checkpoint/verify"
LUA = """
local bodies = {%s}
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
%s
request = function()
  i = i + 1
  return wrk.format(nil, nil, nil, bodies[(i %% #bodies) + 1])
end
"""


def _lua_string(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def wrk(port: int, bodies: list[str], *, duration: int, connections: int, script_dir: Path, headers: dict[str, str] | None = None) -> dict[str, float]:
    script = script_dir / "verify.lua"
    extra = "\n".join(f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}" for k, v in (headers or {}).items())
    script.write_text(LUA % (", ".join(_lua_string(b) for b in bodies), extra))
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), f"http://127.0.0.1:{port}{PATH}"],
        capture_output=True, text=True, timeout=duration + 30,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s*([\d.]+)", out).group(1))
    p99 = _wrk_ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {"rps": rps, "p99_ms": p99, "non2xx": int(non2xx.group(1)) if non2xx else 0, "socket_errors": errors.group(0) if errors else ""}


def _wrk_ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s|m)", text)
    value, unit = float(m.group(1)), m.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def _bodies(green: dict[str, str]) -> dict[str, list[str]]:
    qr = json.dumps({"qr": green["qr"], "temperature": 36.5})
    card = json.dumps({"card_number": green["card_number"], "temperature": 36.5})
    return {"qr": [qr], "card": [card], "mix": [qr, card]}


def throughput(port: int, bodies: list[str], *, use_wrk: bool, duration: int, tmp: Path, headers: dict[str, str] | None = None) -> dict[str, float]:
    if use_wrk:
        return wrk(port, bodies, duration=duration, connections=32, script_dir=tmp, headers=headers)
    raw = [loadgen.build("POST", PATH, port=port, body=b.encode(), headers=headers) for b in bodies]
    r = loadgen.closed_loop(port, raw, connections=32, duration=duration, warmup=1.0)
    ok = r.statuses.get(200, 0)
    return {"rps": r.rps, "p99_ms": r.pct(99), "non2xx": r.requests - ok, "socket_errors": str(r.errors or "")}


def paced(port: int, bodies: list[str], *, rate: float, duration: float, server_pid: int | None = None, headers: dict[str, str] | None = None) -> dict[str, float]:
    raw = [loadgen.build("POST", PATH, port=port, body=b.encode(), headers=headers) for b in bodies]
    server = descendants(server_pid) if server_pid else []
    s0, g0, t0, c0 = runqueue_waits(server), runqueue_waits([os.getpid()]), time.perf_counter(), time.process_time()
    r = loadgen.open_loop(port, raw, rate=rate, duration=duration, connections=64, warmup=1.0)
    wall, gen_cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "p50_ms": r.pct(50), "p99_ms": r.pct(99), "max_ms": r.pct(100), "achieved": r.rps, "errors": r.errors, "non200": r.requests - r.statuses.get(200, 0),
        # Where a tail comes from on shared cores: the generator late to send, or threads waiting for a CPU.
        "gen_lag_p99_ms": percentile(r.lag_ms, 99),
        "server_rq_wait_ms_per_s": runqueue_wait_seconds(s0, runqueue_waits(server)) * 1000 / wall if server else None,
        "gen_rq_wait_ms_per_s": runqueue_wait_seconds(g0, runqueue_waits([os.getpid()])) * 1000 / wall,
        "gen_cpu_ms_per_req": gen_cpu * 1000 / int(rate * (duration + 1.0)),  # every request sent, the warm-up second's too
        "loadavg": os.getloadavg()[0],
    }


def measured(pid: int, duration: int, fn) -> dict[str, float]:
    """``fn()`` (a throughput run of ``duration`` s) with the server's CPU-ms per request added."""
    c0 = tree_cpu_seconds(pid)
    r = fn()
    if r["non2xx"]:  # an error answer is cheap: such a figure would flatter the server
        raise RuntimeError(f"{r['non2xx']} answers were not 2xx")
    r["cpu_ms_per_req"] = (tree_cpu_seconds(pid) - c0) * 1000 / max(1.0, r["rps"] * duration)
    r["loadavg"] = os.getloadavg()[0]
    return r


VARIANTS = (("as shipped", "web.main:app"), ("sync route + Session (before)", "bench.variants:sync_route"), ("bare constant", "bench.bare_app:app"))


def variants(env: dict, green: dict, tmp: Path, *, repeats: int, duration: int, use_wrk: bool, log=print) -> dict[str, Any]:
    """The shipped route against the sync route it replaced and the bare endpoint
    (bench/variants.py); 1 worker, QR body, CPU-ms per request of the server process."""
    out: dict[str, Any] = {}
    body = _bodies(green)["qr"]
    for name, app in VARIANTS:
        port = free_port()
        with Server(uvicorn_argv(app, port, 1), env=env, health="/healthz", log=tmp / "variant.log", port=port) as srv:
            throughput(port, body, use_wrk=use_wrk, duration=1, tmp=tmp)
            runs = [measured(srv.pid, duration, lambda: throughput(port, body, use_wrk=use_wrk, duration=duration, tmp=tmp)) for _ in range(repeats)]
            out[name] = {"rps": median([r["rps"] for r in runs]), "cpu_ms_per_req": median([r["cpu_ms_per_req"] for r in runs]), "runs": runs}
            log(f"  http variant {name}: {out[name]['rps']:,.0f} req/s, {out[name]['cpu_ms_per_req']:.2f} CPU-ms/request")
    return out


def run(*, repeats: int = 3, duration: int = 3, paced_duration: float = 4.0, rate: float = 500.0, workers=(1, 2), diagnose: bool = True, log=print) -> dict[str, Any]:
    use_wrk = shutil.which("wrk") is not None
    gen_loop = "uvloop" if loadgen.uvloop_available() else "asyncio"
    out: dict[str, Any] = {
        "rate": rate,
        "server": " ".join(uvicorn_argv("<app>", 0, max(workers))[2:]).replace(" --port 0", ""),
        "generator": "wrk -t1 -c32 (closed loop)" if use_wrk else "bench.loadgen closed loop, 32 connections (wrk not installed)",
        "paced_generator": f"bench.loadgen open loop (Python, {gen_loop}, GC off, same 2 cores, not pinned) at {rate:.0f} req/s, 64 connections, latency from the scheduled send time",
        "results": {},
    }
    with temp_dir("hp-bench-http-") as tmp:
        store = seed_store(f"sqlite:///{tmp / 'var' / 'healthpass.db'}", tmp / "var")
        bodies = _bodies(store.green)
        # A typed card number needs the checkpoint operator's token; a QR ignores it.
        auth = {"Authorization": store.green["checkpoint_auth"]}
        env = child_env(store.env | {"HEALTHPASS_RATE_LIMIT_EXEMPT": "127.0.0.1,::1"})
        for app_name, app in (("verify", "web.main:app"), ("bare", "bench.bare_app:app")):
            for w in workers:
                port = free_port()
                with Server(uvicorn_argv(app, port, w), env=env, health="/healthz", log=tmp / f"{app_name}-{w}.log", port=port) as srv:
                    # The first answers load keys and the revocation set; not measured.
                    loadgen.closed_loop(port, [loadgen.build("POST", PATH, port=port, body=b.encode(), headers=auth) for b in bodies["mix"]], connections=4, duration=1.0, warmup=0.5)
                    kinds = ("qr", "card") if app_name == "verify" else ("qr",)
                    for kind in kinds:
                        runs = [measured(srv.pid, duration, lambda: throughput(port, bodies[kind], use_wrk=use_wrk, duration=duration, tmp=tmp, headers=auth if kind == "card" else None)) for _ in range(repeats)]
                        key = f"{app_name}/{kind}/w{w}"
                        out["results"][key] = {k: median([r[k] for r in runs]) for k in ("rps", "p99_ms", "cpu_ms_per_req", "loadavg")} | {"runs": runs}
                        log(f"  http: {key}: {out['results'][key]['rps']:,.0f} req/s (closed loop), {out['results'][key]['cpu_ms_per_req']:.2f} server CPU-ms/request")
                    runs = [paced(port, bodies["mix"], rate=rate, duration=paced_duration, server_pid=srv.pid, headers=auth) for _ in range(repeats)]
                    key = f"{app_name}/paced/w{w}"
                    out["results"][key] = {k: median([r[k] for r in runs]) for k in ("p50_ms", "p99_ms", "max_ms", "achieved", "gen_lag_p99_ms", "server_rq_wait_ms_per_s", "gen_rq_wait_ms_per_s", "gen_cpu_ms_per_req", "loadavg")} | {"runs": runs}
                    res = out["results"][key]
                    log(f"  http: {key}: p50 {res['p50_ms']:.1f} ms, p99 {res['p99_ms']:.1f} ms at {res['achieved']:.0f} req/s (generator lag p99 {res['gen_lag_p99_ms']:.1f} ms; server waited {res['server_rq_wait_ms_per_s']:.0f} ms/s for a CPU)")
        if diagnose:
            out["variants"] = variants(env, store.green, tmp, repeats=repeats, duration=2, use_wrk=use_wrk, log=log)
    return out
