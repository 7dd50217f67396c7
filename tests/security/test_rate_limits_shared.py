"""Rate limits across API processes: with Redis configured every app instance (worker) draws on one
budget per client; without it each counts alone (issue 14)."""
from __future__ import annotations

import time
import uuid

import pytest
from fastapi.testclient import TestClient

REDIS_URL = "redis://127.0.0.1:6379/0"


def _redis():
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=1)
    try:
        client.ping()
    except (OSError, redis.RedisError):
        pytest.skip("Redis not reachable at 127.0.0.1:6379")
    return client


def _same_minute() -> None:
    # The windows are calendar minutes: do not straddle a boundary.
    if time.time() % 60 > 55:
        time.sleep(61 - time.time() % 60)


def _verify_codes(clients: list[TestClient], rounds: int) -> list[int]:
    # An empty body is a 422 from the route: it has passed the limiter, which counts it.
    return [c.post("/api/v1/checkpoint/verify", json={}).status_code for _ in range(rounds) for c in clients]


@pytest.fixture
def limited(sqlite_store, monkeypatch):
    from cases import settings as settings_mod

    monkeypatch.setenv("HEALTHPASS_RATE_LIMIT_VERIFY", "5")
    monkeypatch.setenv("HEALTHPASS_RATE_LIMIT_EXEMPT", "")
    settings_mod.get_settings.cache_clear()
    yield
    settings_mod.get_settings.cache_clear()


def test_rate_limit_is_one_budget_across_app_instances_when_redis_is_configured(limited, monkeypatch):
    from web.main import create_app
    from cases import settings as settings_mod

    redis = _redis()
    prefix = f"hp-test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("HEALTHPASS_REDIS_URL", REDIS_URL)
    monkeypatch.setenv("HEALTHPASS_REDIS_PREFIX", prefix)
    settings_mod.get_settings.cache_clear()
    try:
        _same_minute()
        with TestClient(create_app()) as a, TestClient(create_app()) as b:
            codes = _verify_codes([a, b], 4)  # 8 requests, alternating between the two workers
            assert codes.count(422) == 5 and codes[5:] == [429, 429, 429]
            r = b.post("/api/v1/checkpoint/verify", json={})
            assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 60
        assert any(k.decode().startswith(prefix + ":ratelimit") for k in redis.scan_iter(prefix + ":*"))
    finally:
        for key in redis.scan_iter(prefix + ":*"):
            redis.delete(key)


def test_rate_limit_without_redis_is_counted_in_each_process(limited):
    from web.main import create_app

    _same_minute()
    with TestClient(create_app()) as a, TestClient(create_app()) as b:
        assert _verify_codes([a], 6) == [422] * 5 + [429]
        assert _verify_codes([b], 1) == [422]  # another process: its own count


def test_rate_limit_survives_redis_going_away(limited, monkeypatch):
    # A Redis that does not answer: the limit is counted in the process; no 500.
    from web.main import create_app
    from cases import settings as settings_mod

    monkeypatch.setenv("HEALTHPASS_REDIS_URL", "redis://127.0.0.1:9/0")
    settings_mod.get_settings.cache_clear()
    _same_minute()
    with TestClient(create_app()) as a:
        assert _verify_codes([a], 6) == [422] * 5 + [429]
