"""What a person sees after `make run`: seconds from `POST /api/v1/applications` (the standard
example, another person each time) until the case reads `awaiting_audit`.

The setup of `make run` in a temporary data directory: `db upgrade`, `seed --no-history`, then
`healthpass serve` (SQLite store, its own local Prefect server, a healthpass worker) on free ports.
The cases are posted one at a time, 2 s apart, once /healthz reports Prefect and the worker
ok; the first one is the first flow run of a fresh system. Not part of `make bench` (it takes a
few minutes, most of them Prefect's start):

    python -m bench.first_audit [--cases 5]
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from bench.embedded import serving


def run(*, cases: int = 5, log=print) -> dict:
    from cases.simulate import mobile, resident_id

    with serving(prefix="hp-first-audit-") as (client, _serve, ready_s):
        log(f"first-audit: Prefect and the worker ok {ready_s:.0f} s after serve started")
        example = client.get("/openapi.json").json()["paths"]["/api/v1/applications"]["post"]["requestBody"]["content"]["application/json"]["examples"]["standard"]["value"]
        seconds, loads = [], []
        for i in range(cases):
            body = {**example, "id_number": resident_id(3_000_000 + i, county=example["id_number"][:6]), "phone": mobile(3_000_000 + i)}
            t0 = time.monotonic()
            created = client.post("/api/v1/applications", json=body)
            created.raise_for_status()
            case = created.json()
            while client.get(f"/api/v1/applications/{case['id']}", params={"access_token": case["access_token"]}).json()["status"] != "awaiting_audit":
                if time.monotonic() - t0 > 300:
                    raise TimeoutError(f"case {case['id']} not awaiting_audit after 300 s")
                time.sleep(0.05)
            seconds.append(time.monotonic() - t0)
            loads.append(float(Path("/proc/loadavg").read_text().split()[0]))
            log(f"first-audit: case {i + 1}: {seconds[-1]:.2f} s (load average {loads[-1]})")
            time.sleep(2)
    return {"ready_s": ready_s, "seconds": seconds, "median_s": statistics.median(seconds), "max_s": max(seconds), "loadavg": loads}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=5)
    result = run(cases=parser.parse_args().cases)
    print(f"median {result['median_s']:.2f} s, max {result['max_s']:.2f} s over {len(result['seconds'])} cases")
