"""GET /healthz: the store, Prefect and the working calendar's coverage."""
from __future__ import annotations

from datetime import datetime
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
    calendar = _calendar_component(session, settings, now) if store["ok"] else {"status": "unknown", "reason": "the store is unreachable"}
    if calendar["status"] == "degraded":
        warnings.append(calendar["reason"])
    # Revocation push (R4): when its channel is down each PASS is checked in the store instead.
    from cases import revocation_feed

    revocations = revocation_feed.status(session.get_bind())
    # Prefect down is degraded, not down: cases are still accepted and driven later.
    status = "error" if not store["ok"] else "degraded" if calendar["status"] == "degraded" else "ok"
    return {"status": status, "store": store, "prefect": prefect, "calendar": calendar, "revocations": revocations, "warnings": warnings, "time": now}


def _calendar_component(session, settings, now: datetime) -> dict[str, Any]:
    """The working calendar (R11): degraded while this year's official schedule is missing,
    or next year's from 1 November. Deadlines are still computed (provisionally)."""
    from cases.services.calendar_service import missing_years

    cal = sla_service.calendar(session, settings)
    local = now.astimezone(SHANGHAI)
    official = sorted(y for y in range(local.year - 1, local.year + 3) if cal.covers(y))
    missing = missing_years(cal, now)
    component: dict[str, Any] = {"status": "ok", "official_years": official, "provisional_years": missing}
    if missing:
        years = ", ".join(str(y) for y in missing)
        component.update(
            status="degraded",
            reason=f"no official working calendar for {years}: deadlines there are provisional (statutory holidays only); "
            f"import the State Council's schedule with `healthpass calendar import FILE`",
        )
    return component
