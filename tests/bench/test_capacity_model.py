"""The capacity model of bench/capacity.py (issue 15: cores of each kind for a provincial morning
peak of 120 applications/s, R14's flow runs at scale), on figures worked by hand."""
from __future__ import annotations

import pytest

from bench.capacity import capacity_table, predict

# CPU-ms per application by kind, as the benchmark measures them.
COSTS = {"healthpass API": 20.0, "worker": 250.0, "Prefect API": 300.0, "Prefect services": 100.0, "PostgreSQL": 80.0, "Redis": 10.0}


def test_r14_the_machine_bounds_when_it_has_fewer_cores_than_busy_processes():
    # 2 cores / 760 ms = 2.63/s; each single process kind allows more (1 worker: 4/s).
    assert predict(COSTS, {"worker": 1, "Prefect API": 2, "Prefect services": 1, "healthpass API": 2}, cores=2) == pytest.approx(2000 / 760)


def test_r14_one_process_of_a_kind_bounds_when_cores_are_plenty():
    # 64 cores would do 84/s, but one Prefect API process is one core: 1000 / 300 = 3.33/s.
    assert predict(COSTS, {"worker": 8, "Prefect API": 1, "Prefect services": 1, "healthpass API": 2}, cores=64) == pytest.approx(1000 / 300)
    # a second worker doubles what one worker allows, when it is the bound
    one = predict(COSTS | {"worker": 900.0}, {"worker": 1, "Prefect API": 8}, cores=64)
    assert predict(COSTS | {"worker": 900.0}, {"worker": 2, "Prefect API": 8}, cores=64) == pytest.approx(2 * one)


def test_r14_cores_for_the_peak_at_the_planned_utilisation():
    table = capacity_table(COSTS, rate=120, utilisation=0.6)
    assert table["Prefect API"] == pytest.approx(120 * 0.3 / 0.6)  # 60 cores
    assert table["worker"] == pytest.approx(50.0)
    assert sum(table.values()) == pytest.approx(120 * 0.76 / 0.6)
