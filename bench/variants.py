"""Diagnostic variants of the API app (built from ``api.main.create_app`` without editing
it), to measure where the HTTP verify path spends its time:

- ``no_mw``: without the ``@app.middleware("http")`` guard of api/limits.py (a Starlette
  BaseHTTPMiddleware: an extra task group and memory stream per request);
- ``async_deps``: ``get_settings``, ``get_now`` and ``get_session`` overridden by async
  equivalents, so FastAPI does not hop to the threadpool for each of them;
- ``both``: the two together.

Run as ``uvicorn bench.variants:no_mw`` (or ``async_deps``, ``both``).
"""
from __future__ import annotations

from typing import AsyncIterator

from sqlmodel import Session


def _strip_http_middleware(app):
    from starlette.middleware.base import BaseHTTPMiddleware

    app.user_middleware = [m for m in app.user_middleware if m.cls is not BaseHTTPMiddleware]
    app.middleware_stack = None  # rebuilt on the first request
    return app


def _async_deps(app):
    from api import deps
    from cases.clock import get_clock
    from cases.db import get_engine
    from cases.settings import get_settings

    async def settings_async():
        return get_settings()

    async def now_async():
        return get_clock().now()

    async def session_async() -> AsyncIterator[Session]:
        with Session(get_engine(), expire_on_commit=False) as session:
            yield session

    app.dependency_overrides[deps.get_settings] = settings_async
    app.dependency_overrides[deps.get_now] = now_async
    app.dependency_overrides[deps.get_session] = session_async
    return app


def _make(kind: str):
    from api.main import create_app

    app = create_app()
    if kind in ("no_mw", "both"):
        _strip_http_middleware(app)
    if kind in ("async_deps", "both"):
        _async_deps(app)
    return app


def __getattr__(name: str):
    if name in ("no_mw", "async_deps", "both"):
        app = _make(name)
        globals()[name] = app
        return app
    raise AttributeError(name)
