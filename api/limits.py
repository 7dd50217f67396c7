"""Request guards: body size and per-client rate limits on the public endpoints.

The body limit counts the bytes as they arrive (a chunked body has no Content-Length): once
past the limit the request is answered 413 and the rest is never read. The query string is
checked for text no route can store (NUL, unpaired surrogates, bytes that are not UTF-8): 422
naming the parameter.

The rate limits are counted by api/ratelimit.py: in Redis when HEALTHPASS_REDIS_URL is set (one
budget per client across every worker), else in the process (workers × limit)."""
from __future__ import annotations

import math
from urllib.parse import parse_qsl

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from api.ratelimit import RateLimiter
from cases.settings import get_settings

LIMITED = {
    ("POST", "/api/v1/applications"): "rate_limit_declarations",
    ("POST", "/api/v1/checkpoint/verify"): "rate_limit_verify",
    ("POST", "/api/v1/complaints"): "rate_limit_complaints",
    ("POST", "/complaints/new"): "rate_limit_complaints",  # the public complaint form (same budget)
    ("POST", "/api/v1/recovery/request"): "rate_limit_recovery",  # lost-link recovery: API and pages share the budget
    ("POST", "/api/v1/recovery/verify"): "rate_limit_recovery",
    ("POST", "/cases/recover"): "rate_limit_recovery",
    ("POST", "/cases/recover/code"): "rate_limit_recovery",
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
        body_limit = upload_limit(scope) or settings.max_body_bytes
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > body_limit:
            return await too_large(body_limit)(scope, receive, send)
        bad = bad_query_parameter(scope.get("query_string") or b"")
        if bad is None and _bad_text(scope.get("path", "")):
            bad = {"type": "string_unstorable", "loc": ["path"], "msg": f"the path {_bad_text(scope['path'])}"}
        if bad is not None:
            return await JSONResponse({"detail": [bad]}, status_code=422)(scope, receive, send)
        scope["healthpass.rate_limiter"] = self.limiter  # for limits keyed on what a body says (cases/recovery)
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
        return await BodyLimit(self.app, body_limit)(scope, receive, send)


def upload_limit(scope) -> int | None:
    """The supplement answers that carry files (issuer issue) take the files' limits (5 x 5 MB)
    plus the usual body; every other route keeps max_body_bytes."""
    path = scope.get("path", "")
    if scope.get("method") == "POST" and (path.endswith("/supplement/files") or (path.startswith("/cases/") and path.endswith("/supplement"))):
        from cases.attachments.service import MAX_BYTES, MAX_FILES

        return MAX_FILES * MAX_BYTES + get_settings().max_body_bytes
    return None


def too_large(limit: int) -> JSONResponse:
    # Connection: close -- the rest of the body is never read, so the connection cannot be reused.
    return JSONResponse({"detail": f"request body too large (limit {limit} bytes)"}, status_code=413, headers={"Connection": "close"})


def bad_query_parameter(query: bytes) -> dict | None:
    """The first query parameter holding text that cannot be stored or compared, as a 422 item."""
    if b"%" not in query and query.isascii():
        return None  # the common case: nothing encoded, nothing to check
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="surrogateescape"):
        if _bad_text(name):
            return {"type": "string_unstorable", "loc": ["query"], "msg": f"a parameter name {_bad_text(name)}"}
        if _bad_text(value):
            return {"type": "string_unstorable", "loc": ["query", name[:64]], "msg": f"the value {_bad_text(value)}"}
    return None


def _bad_text(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL byte"
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        return "is not valid UTF-8 text"
    return None


class BodyLimit:
    """Counts the request body as it arrives and stops at the limit: the app's read fails with 413
    and whatever the app was about to answer is replaced by that 413."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        received = 0
        exceeded = False
        started = False

        async def limited_receive():
            nonlocal received, exceeded
            if exceeded:  # never read past the limit, whatever the app asks
                raise HTTPException(413, f"request body too large (limit {self.limit} bytes)")
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    exceeded = True
                    raise HTTPException(413, f"request body too large (limit {self.limit} bytes)")
            return message

        async def guarded_send(message):
            nonlocal started
            if exceeded:
                return  # the app's own answer to a cut-off body (a 400, a 500) is replaced below
            started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not exceeded or started:
                raise
        if exceeded and not started:
            await too_large(self.limit)(scope, receive, send)


def install(app: FastAPI) -> None:
    app.add_middleware(Guards)
