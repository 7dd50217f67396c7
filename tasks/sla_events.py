"""SLA firings as Prefect events, so Prefect automations can act on them (a webhook on a breach
in a city, a notification on an escalation to the province).

The store stays the source of truth: the sweep (`cases.services.sla_service.sweep`) fires the
timers and hands back what fired (`SlaFiring`), and this module only tells Prefect about it.
Emission is **best-effort**: a sweep with no Prefect API configured, or with Prefect down, fires
its timers, notifies and records exactly as before; only the events are missing (they are a copy
of what the case timeline and the notifications already hold).

Events (resource `healthpass.case.<case id>`):

| event | timers | rule |
|---|---|---|
| `healthpass.sla.warning` | `reminder_50`, `warn_80` | R11 |
| `healthpass.sla.breach` | `breach` (with the responsible community or unit) | R12, R13 |
| `healthpass.sla.escalation` | `city_1wd`, `province_2wd` | R12 |
| `healthpass.sla.auto-issue` | `auto_issue` (the system's green decision) | R12 |
"""
from __future__ import annotations

import logging
import uuid
from typing import Any, Iterable

from cases.services.sla_service import SlaFiring

log = logging.getLogger(__name__)

EVENT_OF = {
    "reminder_50": "healthpass.sla.warning",
    "warn_80": "healthpass.sla.warning",
    "breach": "healthpass.sla.breach",
    "city_1wd": "healthpass.sla.escalation",
    "province_2wd": "healthpass.sla.escalation",
    "auto_issue": "healthpass.sla.auto-issue",
}
# A fixed namespace: the same firing always gets the same event id, so a re-sent event is one event.
_IDS = uuid.UUID("6f1c3f0e-5b8a-4c57-9d0e-2f6a1f0b7c11")


def case_resource_id(case_id: str) -> str:
    return f"healthpass.case.{case_id}"


def region_resource_id(code: str) -> str:
    return f"healthpass.region.{code}"


def unit_resource_id(code: str) -> str:
    return f"healthpass.unit.{code}"


def holder_resource_id(kind: str, code: str) -> str:
    return unit_resource_id(code) if kind == "unit" else region_resource_id(code)


def event_for(firing: SlaFiring) -> dict[str, Any]:
    """The keyword arguments of `prefect.events.emit_event` for one firing (plain data; tested
    without Prefect). Label values are strings, as Prefect's resources require."""
    name = EVENT_OF[firing.kind]
    names = firing.region_names
    resource = {
        "prefect.resource.id": case_resource_id(firing.case_id),
        "prefect.resource.name": firing.reference,
        "healthpass.case.reference": firing.reference,
        "healthpass.case.kind": firing.case_kind,
        "healthpass.case.channel": firing.channel,
        "healthpass.sla.timer": firing.kind,
        "healthpass.community.code": firing.community_code,
        "healthpass.county.code": firing.county_code,
        "healthpass.city.code": firing.city_code,
    }
    if firing.province_code:
        resource["healthpass.province.code"] = firing.province_code
    if firing.unit_code:
        resource["healthpass.unit.code"] = firing.unit_code
    if firing.level:
        resource["healthpass.sla.level"] = firing.level
    if firing.responsible_kind and firing.responsible_code:
        resource["healthpass.responsible.kind"] = firing.responsible_kind
        resource["healthpass.responsible.code"] = firing.responsible_code

    related: list[dict[str, str]] = []
    if firing.flow_run_id:
        # The case's own flow run (R14): the event shows on the run's page in the Prefect UI.
        related.append({"prefect.resource.id": f"prefect.flow-run.{firing.flow_run_id}", "prefect.resource.role": "flow-run"})
    # The region tree, one role per level, so that an automation can match "a breach in city X".
    for role, code in (("community", firing.community_code), ("county", firing.county_code), ("city", firing.city_code), ("province", firing.province_code)):
        if code:
            related.append(_named({"prefect.resource.id": region_resource_id(code), "prefect.resource.role": role}, names.get(code)))
    if firing.unit_code:
        related.append({"prefect.resource.id": unit_resource_id(firing.unit_code), "prefect.resource.role": "unit"})
    if firing.responsible_kind and firing.responsible_code:
        related.append(
            _named({"prefect.resource.id": holder_resource_id(firing.responsible_kind, firing.responsible_code), "prefect.resource.role": "responsible"}, names.get(firing.responsible_code))
        )

    payload: dict[str, Any] = {
        "case_id": firing.case_id,
        "reference": firing.reference,
        "timer": firing.kind,
        "level": firing.level,
        "due_at": firing.due_at.isoformat(),
        "fired_at": firing.fired_at.isoformat(),
        "community_code": firing.community_code,
        "county_code": firing.county_code,
        "city_code": firing.city_code,
        "province_code": firing.province_code,
        "unit_code": firing.unit_code,
        "red_list": firing.red_list,
    }
    if firing.kind == "breach":
        payload["responsible"] = {"kind": firing.responsible_kind, "code": firing.responsible_code, "name": names.get(firing.responsible_code or "")}
        payload["breach_at"] = firing.due_at.isoformat()
        # R12: the system's green pass is scheduled, or withheld on a red-list hit / declared fever.
        payload["auto_issue_at"] = firing.auto_issue_at.isoformat() if firing.auto_issue_at else None
    return {
        "event": name,
        "resource": resource,
        "related": related,
        "payload": payload,
        "occurred": firing.fired_at,
        "id": uuid.uuid5(_IDS, f"{firing.case_id}:{firing.kind}:{firing.fired_at.isoformat()}"),
    }


def _named(resource: dict[str, str], name: str | None) -> dict[str, str]:
    if name:
        resource["prefect.resource.name"] = name
    return resource


def prefect_api_configured() -> bool:
    from prefect.settings import PREFECT_API_URL

    return bool(PREFECT_API_URL.value())


def send_event(**event: Any) -> None:
    """Hand one event to Prefect's events worker (a background thread that batches them over
    the events websocket; this call does not wait for the server). Tests replace this function."""
    from prefect.events import emit_event

    emit_event(**event)


def emit_firings(firings: Iterable[SlaFiring]) -> int:
    """Emit one event per firing; returns how many were handed to Prefect. Best-effort: with no
    Prefect API configured nothing is sent (Prefect would otherwise start a temporary server of
    its own for them), and a failing emission is logged, never raised: the timers have fired
    and committed already, and the events are only a copy."""
    firings = list(firings)
    if not firings:
        return 0
    if not prefect_api_configured():
        log.debug("no Prefect API configured: %d SLA event(s) not emitted", len(firings))
        return 0
    sent = 0
    for firing in firings:
        if firing.kind not in EVENT_OF:
            continue
        try:
            send_event(**event_for(firing))
            sent += 1
        except Exception:  # best-effort, see above
            log.warning("could not emit the SLA event for %s (%s)", firing.reference, firing.kind, exc_info=True)
    return sent
