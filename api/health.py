"""GET /healthz: one entry per component (store, prefect, worker, calendar), each with its
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


def _worker_component(session) -> dict[str, Any]:
    # Wall-clock time, not the injected case clock: a process's silence is measured in real seconds.
    return heartbeat.workers_component(session, prefix="worker:", now=datetime.now(UTC))


def _calendar_component(session, settings, now) -> dict[str, Any]:
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


def _revocations_component(session) -> dict[str, Any]:
    # Revocation push (R4): while its channel is down each PASS is checked in the store instead.
    from cases import revocation_feed

    feed = revocation_feed.status(session.get_bind())
    if feed.get("connected"):
        return {"status": "ok", **feed}
    return {"status": "degraded", "reason": f"revocations are not pushed to this process ({feed.get('error') or 'channel not connected'}): {feed.get('fallback', '')}", **feed}


@router.get("/healthz", summary="Status of each component: store, Prefect, workers, calendar, revocation push")
def healthz(session: SessionDep, settings: SettingsDep, now: NowDep) -> dict[str, Any]:
    components: dict[str, dict[str, Any]] = {"store": _store_component(session), "prefect": _prefect_component(settings)}
    if components["store"]["status"] == "ok":
        components["worker"] = _worker_component(session)
        components["calendar"] = _calendar_component(session, settings, now)
    else:  # both are read from the store
        components["worker"] = components["calendar"] = {"status": "unknown", "reason": "the store does not answer"}
    components["revocations"] = _revocations_component(session)
    reasons = {name: c["reason"] for name, c in components.items() if c["status"] != "ok"}
    # Only a store that does not answer is an error: with Prefect or the workers away, cases
    # are still accepted (the outbox keeps what is owed) and driven once they are back.
    status = "error" if components["store"]["status"] != "ok" else "degraded" if reasons else "ok"
    warnings = [w for c in components.values() for w in c.get("warnings", ())]
    return {"status": status, "reasons": reasons, "components": components, "warnings": warnings, "time": now}
