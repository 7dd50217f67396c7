"""Diagnostic variants of the API app (built from ``web.main.create_app``, the shipped code
left as it is), to measure the HTTP verify path against what it replaced:

- ``sync_route``: the checkpoint verify route as it was before it became ``async``: a sync
  ``def`` with a ``Session`` dependency, so FastAPI runs the endpoint and then its response
  validation in the threadpool (two thread hops) and opens a Session per request.

Run as ``uvicorn bench.variants:sync_route``; each variant is its own server process, so
swapping a route in the imported router touches nothing else.
"""
# No `from __future__ import annotations`: the route below is defined inside a function,
# and FastAPI resolves string annotations in module globals only (its body would become a
# query parameter and every request a 422).
from typing import Annotated

PATH = "/api/v1/checkpoint/verify"


def _with_sync_route():
    from fastapi import APIRouter, Body

    from api.deps import NowDep, SessionDep, SettingsDep
    from api.routers import passes
    from cases.services import checkpoint

    def verify(body: Annotated[passes.VerifyIn, Body(openapi_examples=passes.VERIFY_EXAMPLES)], session: SessionDep, settings: SettingsDep, now: NowDep) -> passes.VerifyOut:
        d = checkpoint.verify(session=session, settings=settings, now=now, temperature=body.temperature, qr=body.qr, card_number=body.card_number)
        return passes.VerifyOut(result=d.result, reasons=d.reasons, colour=d.colour, valid_until=d.valid_until, masked_name=d.masked_name, card_name=d.card_name)

    scratch = APIRouter()
    scratch.add_api_route(PATH, verify, methods=["POST"], response_model=passes.VerifyOut, tags=["checkpoint"])
    routes = passes.router.routes
    i = next(i for i, r in enumerate(routes) if getattr(r, "path", None) == PATH)
    routes[i] = scratch.routes[0]  # same place: route matching costs the same as shipped

    from web.main import create_app

    return create_app()


def __getattr__(name: str):
    if name == "sync_route":
        app = _with_sync_route()
        globals()[name] = app
        return app
    raise AttributeError(name)
