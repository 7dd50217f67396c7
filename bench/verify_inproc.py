"""Benchmark 2: checkpoint verify in process vs the raw ES256 verify of `cryptography`.

- ``cases.codes._bench.bench``: raw ``public_key.verify`` vs the pure ``decide()``;
- the store path: ``cases.services.checkpoint.verify(session=..., qr=...)`` and
  ``(card_number=...)`` against a seeded SQLite store with keys and the revocation set
  cached (one session reused, as a request would hold one), compared with the raw rate
  measured in the same run.
"""
from __future__ import annotations

import time
from typing import Any

from bench.common import median, seed_store, temp_dir


def _rate(fn, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return n / (time.perf_counter() - t0)


def run(*, n: int = 3000, repeats: int = 3, log=print) -> dict[str, Any]:
    from cases.codes._bench import bench as codes_bench

    pure = [codes_bench(n, repeat=1) for _ in range(repeats)]
    out: dict[str, Any] = {
        "raw_per_s": median([r["raw_verify_per_s"] for r in pure]),
        "decide_per_s": median([r["decide_per_s"] for r in pure]),
        "decide_ratio": median([r["ratio"] for r in pure]),
        "pure_runs": pure,
    }
    log(f"  verify: raw ES256 {out['raw_per_s']:,.0f}/s, decide {out['decide_per_s']:,.0f}/s (ratio {out['decide_ratio']:.2f})")
    with temp_dir("hp-bench-verify-") as tmp:
        store = seed_store(f"sqlite:///{tmp / 'var' / 'healthpass.db'}", tmp / "var")
        from sqlmodel import Session

        from cases.clock import now
        from cases.db import get_engine, reset_engine
        from cases.services import checkpoint
        from cases.settings import get_settings

        settings, at = get_settings(), now()
        qr, card = store.green["qr"], store.green["card_number"]
        ratios_qr, ratios_card, qr_rates, card_rates, session_rates = [], [], [], [], []
        with Session(get_engine()) as session:
            assert checkpoint.verify(session=session, settings=settings, now=at, temperature=36.5, qr=qr).passed
            assert checkpoint.verify(session=session, settings=settings, now=at, temperature=36.5, card_number=card).passed
            for _ in range(repeats):
                raw = codes_bench(n, repeat=1)["raw_verify_per_s"]
                q = _rate(lambda: checkpoint.verify(session=session, settings=settings, now=at, temperature=36.5, qr=qr), n)
                c = _rate(lambda: checkpoint.verify(session=session, settings=settings, now=at, temperature=36.5, card_number=card), n)
                qr_rates.append(q)
                card_rates.append(c)
                ratios_qr.append(q / raw)
                ratios_card.append(c / raw)

        def per_request() -> None:  # a session per call, as the API's dependency opens one
            with Session(get_engine()) as s:
                checkpoint.verify(session=s, settings=settings, now=at, temperature=36.5, qr=qr)

        for _ in range(repeats):
            session_rates.append(_rate(per_request, n))
        reset_engine()
    out.update(
        store_qr_per_s=median(qr_rates),
        store_qr_ratio=median(ratios_qr),
        store_card_per_s=median(card_rates),
        store_card_ratio=median(ratios_card),
        store_qr_new_session_per_s=median(session_rates),
    )
    log(f"  verify: checkpoint.verify qr {out['store_qr_per_s']:,.0f}/s (ratio {out['store_qr_ratio']:.2f}), card number {out['store_card_per_s']:,.0f}/s (ratio {out['store_card_ratio']:.2f})")
    return out
