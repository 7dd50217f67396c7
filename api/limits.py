"""Request guards: body size and per-client rate limits on the public endpoints.

The rate limits are counted by api/ratelimit.py: in Redis when HEALTHPASS_REDIS_URL is set (one
budget per client across every worker), else in the process (workers × limit)."""
from __future__ import annotations

import math

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from api.ratelimit import RateLimiter
from cases.settings import get_settings

LIMITED = {
    ("POST", "/api/v1/applications"): "rate_limit_declarations",
    ("POST", "/api/v1/checkpoint/verify"): "rate_limit_verify",
    ("POST", "/api/v1/complaints"): "rate_limit_complaints",
    ("POST", "/complaints/new"): "rate_limit_complaints",  # the public complaint form (same budget)
}


class Guards:
    """Plain ASGI middleware (Starlette's BaseHTTPMiddleware cost ~1 ms a request on the verify path)."""

    def __init__(self, app):
        self.app = app
        self.limiter = RateLimiter()

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
            wait = await self.limiter.hit(client=client, bucket=bucket, limit=limit) if limit > 0 and not exempt else None
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
