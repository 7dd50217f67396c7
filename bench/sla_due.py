"""Benchmark 1: SLA due-time computations per second (``sla._bench.bench``).

Baseline in the same run: the same loop computing a clock-hours deadline
(``submitted + 6 h``), i.e. what a due time costs without a working calendar.
"""
from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from bench.common import median


def _clock_hours(n: int) -> float:
    from sla._bench import _submissions

    starts = _submissions(1_000)
    six = timedelta(hours=6)
    k = len(starts)
    t0 = time.perf_counter()
    for i in range(n):
        starts[i % k] + six
    return n / (time.perf_counter() - t0)


def run(*, n: int = 100_000, repeats: int = 3, log=print) -> dict[str, Any]:
    from sla._bench import bench

    runs = [bench(n) for _ in range(repeats)]
    base = [_clock_hours(n) for _ in range(repeats)]
    out = {"per_s": median(runs), "runs": runs, "baseline_per_s": median(base), "n": n}
    log(f"  sla: {out['per_s']:,.0f} due times/s (clock-hours baseline {out['baseline_per_s']:,.0f}/s)")
    return out
