"""The dispatcher's per-run savings rely on two names inside Prefect (pinned 3.9.1): an upgrade
that moves them must fail here, not silently bring back a thread and a websocket per run."""
from __future__ import annotations

import prefect.flow_engine as engine
from prefect.settings import get_current_settings

from flows.dispatcher import lean_runs


def test_r14_dispatcher_runs_without_suspension_observer_or_heartbeat_and_restores_both():
    original = engine.observe_flow_run_suspension
    before = get_current_settings().flows.heartbeat_frequency
    with lean_runs():
        assert engine.observe_flow_run_suspension is not original
        assert get_current_settings().flows.heartbeat_frequency is None
        with lean_runs():  # nested (run_forever -> drain_once)
            assert get_current_settings().flows.heartbeat_frequency is None
        assert engine.observe_flow_run_suspension is not original
    assert engine.observe_flow_run_suspension is original
    assert get_current_settings().flows.heartbeat_frequency == before
