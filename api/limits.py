"""Request guards: body size and per-client rate limits on the public endpoints.

The counters live in the process (a fixed one-minute window); behind several workers each
keeps its own, which bounds a client at workers × limit — put the limit in the proxy too."""
from __future__ import annotations

import math
import threading
import time

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from cases.settings import get_settings

LIMITED = {
    ("POST", "/api/v1/applications"): "rate_limit_declarations",
    ("POST", "/api/v1/checkpoint/verify"): "rate_limit_verify",
    ("POST", "/api/v1/complaints"): "rate_limit_complaints",
}


class Window:
    def __init__(self) -> None:
        self.counts: dict[tuple[str, str, int], int] = {}
        self.lock = threading.Lock()

    def hit(self, client: str, bucket: str, limit: int, now: float) -> float | None:
        """None when allowed, else the seconds until the window resets."""
        minute = int(now // 60)
        with self.lock:
            if len(self.counts) > 100_000:  # old windows: forget them
                self.counts = {k: v for k, v in self.counts.items() if k[2] == minute}
            key = (client, bucket, minute)
            self.counts[key] = self.counts.get(key, 0) + 1
            if self.counts[key] <= limit:
                return None
        return 60 - (now % 60)


class Guards:
    """Plain ASGI middleware (Starlette's BaseHTTPMiddleware cost ~1 ms a request on the verify path)."""

    def __init__(self, app):
        self.app = app
        self.window = Window()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        settings = get_settings()
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > settings.max_body_bytes:
            return await JSONResponse({"detail": f"request body too large (limit {settings.max_body_bytes} bytes)"}, status_code=413)(scope, receive, send)
        bucket = LIMITED.get((scope["method"], scope["path"]))
        if bucket:
            limit = getattr(settings, bucket)
            client = scope["client"][0] if scope.get("client") else "unknown"
            exempt = client in settings.rate_limit_exempt.split(",")
            wait = self.window.hit(client, bucket, limit, time.time()) if limit > 0 and not exempt else None
            if wait is not None:
                response = JSONResponse(
                    {"detail": f"too many requests: at most {limit} a minute from one client; retry later"},
                    status_code=429,
                    headers={"Retry-After": str(math.ceil(wait))},
                )
                return await response(scope, receive, send)
        return await self.app(scope, receive, send)


def install(app: FastAPI) -> None:
    app.add_middleware(Guards)
