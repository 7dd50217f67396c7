"""Builders for valid declarations (relative to the simulated day)."""
from __future__ import annotations

from datetime import date


def example(kind: str, today: date) -> dict:
    from cases.declaration_schema import make_examples

    return make_examples(today)[kind]["value"]
