"""Benchmarks for issue 7 (`make bench` -> BENCHMARKS.md).

One module per benchmark; each exposes ``run(...) -> dict`` with the measured figures,
its baseline measured in the same run, and notes. ``python -m bench.run`` runs them all
(or ``--only NAME``) and writes BENCHMARKS.md. Loads go to 127.0.0.1 only, and each
throwaway database or server a benchmark starts is removed when it ends.
"""

BENCHMARKS = ("sla", "verify", "http", "sweep", "intake", "memory", "supervision", "trends", "embedded", "capacity")
