"""Errors become clear 4xx answers that match the published error schema, and cost little.

- A domain rule's 422 has the shape FastAPI publishes for validation errors
  (`{"detail": [{"type", "loc", "msg"}]}`), so a client parses one shape.
- A validation error never echoes more than a short prefix of the input, and at most
  MAX_ERRORS errors are listed: a body of thousands of unknown keys used to cost seconds of
  CPU and an answer many times its size (each "missing" error carried the whole body).
- Text the store cannot hold (a NUL byte, an unpaired surrogate) that slipped past a model's
  own checks is a 422, not a 500; nothing was stored (the session rolls back)."""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from cases.errors import DomainError

MAX_ERRORS = 20
MAX_INPUT_CHARS = 64
MAX_MSG_CHARS = 300


def short_input(value: Any) -> Any:
    """A JSON-safe, short stand-in for the offending input: numbers and short text as they are,
    everything else as a truncated text (NaN and infinities become text: JSON has no such numbers)."""
    if value is None or isinstance(value, bool) or isinstance(value, int) and abs(value) < 2**53:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    text = value if isinstance(value, str) else repr(value)
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")  # a lone surrogate cannot be encoded
    return text if len(text) <= MAX_INPUT_CHARS else text[:MAX_INPUT_CHARS] + "…"


def _loc(loc: Any) -> list[str | int]:
    return [part if isinstance(part, int) else short_input(str(part)) for part in (loc or ())]


def validation_detail(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Errors in the published shape, bounded in number and size."""
    detail = []
    for err in errors[:MAX_ERRORS]:
        item: dict[str, Any] = {"type": str(err.get("type", "value_error")), "loc": _loc(err.get("loc")), "msg": str(err.get("msg", ""))[:MAX_MSG_CHARS]}
        if "input" in err:
            item["input"] = short_input(err["input"])
        detail.append(item)
    if len(errors) > MAX_ERRORS:
        detail.append({"type": "too_many_errors", "loc": ["body"], "msg": f"{len(errors) - MAX_ERRORS} more errors not listed; fix the ones above first"})
    return detail


def invalid_response(description: str) -> dict[str, Any]:
    """An OpenAPI `responses` entry for a 422 with its own description that keeps the published
    error schema (a description alone would leave the 422 without a schema)."""
    return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}}}


def domain_detail(exc: DomainError) -> dict[str, Any]:
    item = exc.to_dict()
    item.setdefault("loc", ["body"])
    return {"type": item.pop("code"), **item}


def _cannot_store(exc: BaseException) -> bool:
    """A NUL byte (PostgreSQL refuses it) or an unpaired surrogate (no UTF-8 for it)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        text = str(exc)
        if isinstance(exc, UnicodeEncodeError) and "surrogate" in text:
            return True
        if "NUL" in text and "0x00" in text:  # psycopg: "... cannot contain NUL (0x00) ..."
            return True
        exc = exc.__cause__ or exc.__context__ or getattr(exc, "orig", None)
    return False


CANNOT_STORE = {"type": "string_unstorable", "loc": ["body"], "msg": "the text contains a NUL byte or an unpaired surrogate, which cannot be stored; remove it"}


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse(status_code=exc.status_code, content={"detail": [domain_detail(exc)] if exc.status_code == 422 else exc.message})

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": validation_detail(list(exc.errors()))})

    @app.exception_handler(ValueError)
    async def _value(request: Request, exc: ValueError) -> JSONResponse:
        if _cannot_store(exc):
            return JSONResponse(status_code=422, content={"detail": [CANNOT_STORE]})
        raise exc

    @app.exception_handler(405)
    async def _method(request: Request, exc: Exception) -> JSONResponse:
        # Starlette's Allow names the methods of the first route with this path only; a path
        # served by two routes (GET and POST /api/v1/users) must list both.
        from starlette.routing import Match

        allowed: set[str] = set()
        for route in request.app.router.routes:
            if getattr(route, "methods", None) and route.matches(request.scope)[0] != Match.NONE:
                allowed |= set(route.methods)
        return JSONResponse({"detail": "Method Not Allowed"}, status_code=405, headers={"Allow": ", ".join(sorted(allowed))})

    from sqlalchemy.exc import StatementError

    @app.exception_handler(StatementError)
    async def _statement(request: Request, exc: StatementError) -> JSONResponse:
        if _cannot_store(exc):
            return JSONResponse(status_code=422, content={"detail": [CANNOT_STORE]})
        raise exc


ERROR_SCHEMA = {
    "type": "object",
    "title": "Error",
    "description": "`detail` is a message, or a list of errors in the validation-error shape",
    "properties": {"detail": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"$ref": "#/components/schemas/ValidationError"}}]}},
    "required": ["detail"],
}


def document(schema: dict[str, Any]) -> None:
    """Publish the error answers every operation can give, so a client (and schemathesis) finds
    each status it can receive in the schema: 400 (a body that cannot be parsed), 413 (body
    over the limit), 422 (a query parameter with text no route can store), 401/403 (operations
    that read a token), 404 (operations naming a resource), 429 (rate-limited routes)."""
    from api.limits import LIMITED

    schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    common = {
        "400": "The request body could not be parsed",
        "401": "Not signed in, or the token expired",
        "403": "Signed in, but this needs another role",
        "404": "No such resource, or not yours to see",
        "413": "Request body too large",
        "409": "Conflicts with the current state (already decided, already reported, ...)",
        "429": "Too many requests; see Retry-After",
    }
    for path, operations in schema.get("paths", {}).items():
        for method, op in operations.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            responses = op["responses"]
            codes = []
            if "requestBody" in op:
                codes += ["400", "413"]
            if op.get("security"):
                codes += ["401", "403"]
            if op.get("parameters") or "requestBody" in op or "{" in path:
                codes.append("404")
            if method.upper() in ("POST", "PUT", "PATCH", "DELETE"):
                codes.append("409")
            if (method.upper(), path) in LIMITED:
                codes.append("429")
            for code in codes:
                responses.setdefault(code, {"description": common[code], "content": ref})
            responses.setdefault("422", invalid_response("Invalid field, named in `detail[].loc`"))


def wants_html(request: Request) -> bool:
    """A browser asking for a page: HTML accepted and the path not under /api/ (whose clients
    parse JSON errors, whatever they accept)."""
    path = request.url.path
    return "text/html" in request.headers.get("accept", "") and not (path == "/api" or path.startswith("/api/"))


def install_pages(app: FastAPI, page: Callable[[Request, int], Response] | None) -> None:
    """Unknown pages and crashes as HTML pages for browsers (``page`` renders them: the UI's,
    passed in by the composition root); JSON for everything else. A 500 never shows the
    exception: it is logged, the client reads a fixed text."""
    from fastapi.exception_handlers import http_exception_handler
    from starlette.exceptions import HTTPException as StarletteHTTPException

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if page is not None and exc.status_code == 404 and wants_html(request):
            return page(request, 404)
        return await http_exception_handler(request, exc)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> Response:
        # Starlette's ServerErrorMiddleware calls this, then re-raises for the server's log.
        if page is not None and wants_html(request):
            return page(request, 500)
        return JSONResponse({"detail": "Internal Server Error"}, status_code=500)
