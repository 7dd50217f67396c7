"""``python -m bench.run`` (``make bench``): run the benchmarks, write BENCHMARKS.md.

    python -m bench.run                    # all, ~12-15 min on 2 cores
    python -m bench.run --only sweep       # one (or several: --only http --only memory)
    python -m bench.run --quick            # tiny sizes: checks the machinery, figures meaningless
    python -m bench.run --full             # also the 1M-open-case sweep (adds ~2-5 min)

Raw results go to bench/results.json; with --only the other benchmarks' last results are
kept from there, so BENCHMARKS.md always has every row (each says when it was measured).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable

from bench import BENCHMARKS
from bench import profile as spy
from bench.common import ROOT, machine_info, now_iso, pg_available

RESULTS = ROOT / "bench" / "results.json"
REPORT = ROOT / "BENCHMARKS.md"


def _runners(quick: bool, full: bool) -> dict[str, Callable[..., dict]]:
    from bench import capacity, embedded, http_verify, intake, memory, sla_due, supervision, sweep, trends, verify_inproc

    if quick:
        return {
            "sla": lambda log: sla_due.run(n=2_000, repeats=3, log=log),
            "verify": lambda log: verify_inproc.run(n=200, repeats=3, log=log),
            "http": lambda log: http_verify.run(repeats=3, duration=1, paced_duration=1.0, rate=100.0, workers=(1,), diagnose=False, log=log),
            "sweep": lambda log: sweep.run(sizes=(200, 1_000), big=None, due=50, repeats=3, log=log),
            "intake": lambda log: intake.run(concurrencies=(4,), n=4, repeats=3, post_rate=10.0, post_seconds=1.0, profile=False, naive_limits=(2,), log=log),
            "memory": lambda log: memory.run(requests=200, repeats=3, log=log),
            "supervision": lambda log: supervision.run(n=2_000, repeats=5, log=log),
            "trends": lambda log: trends.run(n=2_000, days=14, requests=5, log=log),
            "embedded": lambda log: embedded.run(n=4, clients=2, log=log),
            "capacity": lambda log: capacity.run(n=4, log=log),
        }
    return {
        "sla": lambda log: sla_due.run(log=log),
        "verify": lambda log: verify_inproc.run(log=log),
        "http": lambda log: http_verify.run(log=log),
        "sweep": lambda log: sweep.run(big=1_000_000 if full else None, budget_s=900 if full else 240, log=log),
        "intake": lambda log: intake.run(log=log),
        "memory": lambda log: memory.run(log=log),
        "supervision": lambda log: supervision.run(log=log),
        "trends": lambda log: trends.run(log=log),
        "embedded": lambda log: embedded.run(log=log),
        "capacity": lambda log: capacity.run(log=log),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", action="append", choices=BENCHMARKS, help="run only this benchmark (repeatable)")
    p.add_argument("--quick", action="store_true", help="tiny sizes, to check the machinery (figures are meaningless)")
    p.add_argument("--full", action="store_true", help="include the 1M-open-case sweep")
    p.add_argument("--no-report", action="store_true", help="print results, do not touch BENCHMARKS.md / results.json")
    p.add_argument("--report", type=Path, default=None, help="write the report here (default BENCHMARKS.md; --quick writes none unless given)")
    args = p.parse_args(argv)
    os.chdir(ROOT)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    selected = args.only or list(BENCHMARKS)
    if not pg_available() and any(b in selected for b in ("sweep", "intake", "supervision", "embedded", "capacity")):
        print("PostgreSQL is not reachable (HEALTHPASS_TEST_POSTGRES_URL): sweep and intake need it", file=sys.stderr)
        return 2

    def log(msg: str) -> None:
        print(msg, flush=True)

    if "intake" in selected and not args.quick and not spy.py_spy():
        # `make bench` installs it; without it the intake section loses its profile tables.
        log("bench: py-spy not found (`make bench` installs it): the intake report will have no profile of the worker and the server")

    previous: dict[str, Any] = {}
    if RESULTS.exists() and not args.quick:
        try:
            previous = json.loads(RESULTS.read_text())
        except ValueError:
            previous = {}
    results: dict[str, Any] = dict(previous.get("benchmarks", {}))
    machine = machine_info()
    log(f"bench: {machine['cpu']}, {machine['cores']} cores, load {machine['loadavg_at_start'][0]:.1f}; running {', '.join(selected)}")
    runners = _runners(args.quick, args.full)
    t_all = time.perf_counter()
    failures = 0
    for name in selected:
        log(f"[{name}]")
        t0 = time.perf_counter()
        load0 = os.getloadavg()[0]
        try:
            data = runners[name](log)
            data["error"] = None
        except Exception as exc:  # a broken benchmark is reported, the others still run
            failures += 1
            traceback.print_exc()
            data = {"error": f"{type(exc).__name__}: {exc}"}
        data["measured_at"] = now_iso()
        data["seconds"] = round(time.perf_counter() - t0, 1)
        data["loadavg"] = [round(load0, 2), round(os.getloadavg()[0], 2)]
        data["quick"] = args.quick
        results[name] = data
        log(f"[{name}] {data['seconds']} s")
    total = time.perf_counter() - t_all
    log(f"bench: done in {total / 60:.1f} min")
    if args.no_report:
        print(json.dumps(results, indent=1, default=str)[:20000])
        return 1 if failures else 0
    doc = {"machine": machine, "benchmarks": results, "last_run": {"selected": selected, "seconds": round(total, 1), "quick": args.quick, "at": now_iso()}}
    if not args.quick:
        RESULTS.write_text(json.dumps(doc, indent=1, default=str, ensure_ascii=False) + "\n")
    target = args.report or (None if args.quick else REPORT)
    if target is not None:
        from bench.report import write

        write(doc, target)
        log(f"bench: wrote {target}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
