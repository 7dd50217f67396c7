"""The local Prefect server `healthpass serve` starts: Prefect's own application, exactly what
`prefect server start` runs (``prefect.server.api.server.create_app``), with two ASGI middlewares
in front when its database is SQLite.

Why: SQLite has one writer. When two of the server's write transactions collide, the loser gets
"database is locked" at once, Prefect's server answers 503, and Prefect's client waits 2, 4, 8 …
seconds before it retries (unless the answer carries a ``Retry-After``, which it honours). Under a
burst of applications the embedded default's runs sat idle for seconds per collision, and a run
whose submission met five in a row was marked Crashed (BENCHMARKS.md, "the embedded default").

- ``OneWriterAtATime`` lets one mutating request (POST, PUT, PATCH, DELETE) into the server at a
  time: they queue for milliseconds instead of colliding. Reads pass freely. (Prefect's own
  background services still write beside them.)
- ``RetrySoonWhenBusy`` gives a 503 that still happens a short, jittered ``Retry-After``.

On PostgreSQL neither is installed: writers do not collide there, and a 503 means the database is
away, where Prefect's own back-off is the right one.

    python -m ops.prefect_server --host 127.0.0.1 --port 4200
"""
from __future__ import annotations

import argparse
import random
from typing import Any

# Short enough that a collision costs a fraction of a second, spread so the colliding runs do
# not collide again on the same tick; Prefect's client retries 5 times by default.
RETRY_AFTER_SECONDS = (0.1, 0.6)


class OneWriterAtATime:
    """ASGI middleware: mutating HTTP requests pass one at a time (SQLite has one writer)."""

    MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})

    def __init__(self, app: Any):
        import asyncio

        self.app, self.lock = app, asyncio.Lock()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] not in self.MUTATING:
            await self.app(scope, receive, send)
            return
        async with self.lock:
            await self.app(scope, receive, send)


class RetrySoonWhenBusy:
    """ASGI middleware: a 503 without ``Retry-After`` gets one drawn from ``seconds``."""

    def __init__(self, app: Any, seconds: tuple[float, float] = RETRY_AFTER_SECONDS):
        self.app, self.seconds = app, seconds

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_retry_after(message: dict) -> None:
            if message["type"] == "http.response.start" and message["status"] == 503:
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"retry-after" for name, _ in headers):
                    headers.append((b"retry-after", f"{random.uniform(*self.seconds):.2f}".encode()))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_retry_after)


# On PostgreSQL, Prefect's server keeps 5 connections and opens up to 10 more under load, closing
# each one as it is returned. With a worker at limit 8 that was about 3 new connections per
# application, and each new backend's start-up cost PostgreSQL ~110 CPU-ms per application, more
# than the three steps' own work (BENCHMARKS.md, "the Prefect server's connection pool"). Kept open,
# they are reused. deploy/cluster.env sets the same for the cluster (a test keeps them equal).
POSTGRES_POOL_SIZE = 20


def with_server_defaults(env: dict[str, str]) -> dict[str, str]:
    """``env`` with the Prefect server settings healthpass runs it with, where ``env`` does not
    set them itself (SQLite ignores the pool size)."""
    env.setdefault("PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_SIZE", str(POSTGRES_POOL_SIZE))
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    env.setdefault("PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT", "false")
    return env


def is_sqlite(connection_url: str | None) -> bool:
    return connection_url is None or connection_url.startswith("sqlite")


def build_app() -> Any:
    from prefect.server.api.server import create_app
    from prefect.settings import get_current_settings

    app = create_app(final=True)
    url = get_current_settings().server.database.connection_url
    return RetrySoonWhenBusy(OneWriterAtATime(app)) if is_sqlite(url.get_secret_value() if url else None) else app


def main(argv: list[str] | None = None) -> None:
    import uvicorn
    from prefect.settings import get_current_settings

    parser = argparse.ArgumentParser(description="The local Prefect server of `healthpass serve`.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4200)
    args = parser.parse_args(argv)
    server = get_current_settings().server
    # The same uvicorn options `prefect server start` passes, from the same Prefect settings.
    uvicorn.run(
        build_app(),
        host=args.host,
        port=args.port,
        timeout_keep_alive=server.api.keepalive_timeout,
        ws_ping_interval=server.api.websocket_ping_interval,
        ws_ping_timeout=server.api.websocket_ping_timeout,
        log_level=server.logging_level.lower(),
    )


if __name__ == "__main__":
    main()
