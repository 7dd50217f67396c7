"""GET /healthz: one entry per component (store, prefect, dispatcher, calendar), each with its
status and, when it is not "ok", the reason. The answer is 200 whatever it says: the API itself
answers, and `status` says how well the rest does."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import APIRouter
from sqlalchemy import text

from api.deps import NowDep, SessionDep, SettingsDep
from cases.clock import SHANGHAI
from cases.services import heartbeat, sla_service

router = APIRouter(tags=["health"])


def _store_component(session) -> dict[str, Any]:
    try:
        session.exec(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 -- the answer says what is wrong instead of failing
        return {"status": "down", "reason": f"the store does not answer: {type(exc).__name__}: {str(exc)[:200]}"}
    return {"status": "ok", "dialect": session.get_bind().dialect.name}


def _prefect_component(settings) -> dict[str, Any]:
    url = settings.effective_prefect_api_url
    try:
        r = httpx.get(url + "/health", timeout=2)
    except httpx.HTTPError as exc:
        return {"status": "down", "api_url": url, "reason": f"Prefect does not answer at {url}: {type(exc).__name__}; cases are accepted and driven once it does"}
    if r.status_code != 200:
        return {"status": "down", "api_url": url, "reason": f"Prefect answers {r.status_code} at {url}/health"}
    return {"status": "ok", "api_url": url}


def _dispatcher_component(session) -> dict[str, Any]:
    # Wall-clock time, not the injected case clock: a process's silence is measured in real seconds.
    return heartbeat.component(session, name="dispatcher", now=datetime.now(UTC))


def _calendar_component(session, settings, now) -> dict[str, Any]:
    """The working calendar's coverage: this year is needed for every SLA due time ("degraded"
    without it); next year's is a warning from November on."""
    warnings = []
    local = now.astimezone(SHANGHAI)
    cal = sla_service.calendar(session, settings)
    if not cal.covers(local.year):
        return {"status": "degraded", "reason": f"the working calendar does not cover {local.year}: SLA due times cannot be computed", "warnings": warnings}
    if local.month >= 11 and not cal.covers(local.year + 1):
        warnings.append(f"the working calendar does not cover {local.year + 1} yet: add the State Council's holidays (healthpass calendar set) or upgrade chinesecalendar")
    return {"status": "ok", "warnings": warnings}


@router.get("/healthz", summary="Status of each component: store, Prefect, dispatcher, calendar")
def healthz(session: SessionDep, settings: SettingsDep, now: NowDep) -> dict[str, Any]:
    components: dict[str, dict[str, Any]] = {"store": _store_component(session), "prefect": _prefect_component(settings)}
    if components["store"]["status"] == "ok":
        components["dispatcher"] = _dispatcher_component(session)
        components["calendar"] = _calendar_component(session, settings, now)
    else:  # both are read from the store
        components["dispatcher"] = components["calendar"] = {"status": "unknown", "reason": "the store does not answer"}
    reasons = {name: c["reason"] for name, c in components.items() if c["status"] != "ok"}
    # Only a store that does not answer is an error: with Prefect or the dispatcher away, cases
    # are still accepted (the outbox keeps what is owed) and driven once they are back.
    status = "error" if components["store"]["status"] != "ok" else "degraded" if reasons else "ok"
    warnings = [w for c in components.values() for w in c.get("warnings", ())]
    return {"status": status, "reasons": reasons, "components": components, "warnings": warnings, "time": now}
