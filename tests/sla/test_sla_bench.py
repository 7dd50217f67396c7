"""Smoke test of the due-time benchmark `make bench` calls (full target: ≥ 100,000/s)."""

from sla._bench import bench


def test_r11_bench_runs_and_is_not_pathologically_slow():
    # A small n keeps the suite fast; the floor is far below the measured rate so a
    # slow CI machine does not flake, yet an accidental O(days) regression still fails.
    assert bench(n=5_000) > 20_000
