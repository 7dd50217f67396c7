"""GET /healthz: the store, Prefect and the working calendar's coverage."""
from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter
from sqlalchemy import text

from api.deps import NowDep, SessionDep, SettingsDep
from cases.clock import SHANGHAI
from cases.services import sla_service

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Store and Prefect status")
def healthz(session: SessionDep, settings: SettingsDep, now: NowDep) -> dict[str, Any]:
    store: dict[str, Any] = {"ok": True, "dialect": session.get_bind().dialect.name}
    try:
        session.exec(text("SELECT 1"))
    except Exception as exc:  # the answer says what is wrong instead of failing
        store = {"ok": False, "error": str(exc)}
    prefect: dict[str, Any] = {"api_url": settings.effective_prefect_api_url}
    try:
        r = httpx.get(settings.effective_prefect_api_url + "/health", timeout=2)
        prefect["ok"] = r.status_code == 200
    except httpx.HTTPError as exc:
        prefect.update(ok=False, error=type(exc).__name__)
    warnings = []
    local = now.astimezone(SHANGHAI)
    if store["ok"]:
        cal = sla_service.calendar(session, settings)
        if not cal.covers(local.year):
            warnings.append(f"the working calendar does not cover {local.year}: SLA due times cannot be computed")
        elif local.month >= 11 and not cal.covers(local.year + 1):
            warnings.append(f"the working calendar does not cover {local.year + 1} yet: add the State Council's holidays (healthpass calendar set) or upgrade chinesecalendar")
    # Revocation push (R4): when its channel is down each PASS is checked in the store instead.
    from cases import revocation_feed

    revocations = revocation_feed.status(session.get_bind())
    # Prefect down is degraded, not down: cases are still accepted and driven later.
    return {"status": "ok" if store["ok"] else "error", "store": store, "prefect": prefect, "revocations": revocations, "warnings": warnings, "time": now}
