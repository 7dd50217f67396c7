"""`healthpass automations …`: Prefect automations on the SLA events the sweep emits
(tasks/sla_events.py). They run on the Prefect server itself (its triggers and actions services),
so a breach reaches a webhook without anything of ours running but the sweep.

    healthpass automations breach-webhook --city 370200 --url https://hooks.example/sla

creates, or updates when it exists (by name), the automation "a breach in city 370200 → POST the
webhook" and the Webhook block it calls (Prefect OSS calls webhooks through a block document)."""
from __future__ import annotations

import os
import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Optional
from uuid import UUID

import typer

automations_app = typer.Typer(help="Prefect automations on the SLA events (healthpass.sla.*).", no_args_is_help=True)

BREACH_EVENT = "healthpass.sla.breach"
# What the webhook receives: the event's name, id and time, and its payload (case id and number,
# the timer, the region codes, the responsible community or unit, R13). JSON by `tojson`.
BREACH_PAYLOAD = (
    '{"event": {{ event.event | tojson }}, "event_id": "{{ event.id }}", "occurred": "{{ event.occurred.isoformat() }}", '
    '"case": {{ event.resource.get("prefect.resource.id") | tojson }}, "sla": {{ event.payload | tojson }}}'
)


@dataclass
class Ensured:
    automation_id: UUID
    block_document_id: UUID
    name: str
    block_name: str
    created: bool  # False: an automation of that name existed and was updated


def city_code(value: str) -> str:
    """A city's GB/T 2260 code: `370200`, or its 4-digit form `3702`."""
    value = value.strip()
    if not re.fullmatch(r"\d{4}(00)?", value) or value[2:4] == "00":
        raise ValueError(f"not a city code: {value!r} (six digits ending in 00, e.g. 370100 for Jinan; 3701 also works)")
    return value if len(value) == 6 else value + "00"


def automation_name(city: str) -> str:
    return f"healthpass: SLA breach in city {city} -> webhook"


def block_name(city: str) -> str:
    return f"healthpass-sla-breach-city-{city}"  # block names: lowercase letters, digits, dashes


def ensure_breach_webhook(*, city: str, url: str, headers: dict[str, str] | None = None) -> Ensured:
    """Create or update (idempotent, by name) the Webhook block and the automation: event
    `healthpass.sla.breach` with a related resource `healthpass.region.<city>` in role `city`
    -> call the webhook. Uses the Prefect API of the current settings (PREFECT_API_URL)."""
    from prefect.automations import Automation, CallWebhook, EventTrigger, Posture
    from prefect.blocks.webhook import Webhook
    from prefect.client.orchestration import get_client

    city = city_code(city)
    block = Webhook(method="POST", url=url, headers={"Content-Type": "application/json", **(headers or {})})
    block_id = block.save(block_name(city), overwrite=True)
    trigger = EventTrigger(
        expect={BREACH_EVENT},
        match={"prefect.resource.id": "healthpass.case.*"},
        match_related={"prefect.resource.role": "city", "prefect.resource.id": f"healthpass.region.{city}"},
        posture=Posture.Reactive,
        threshold=1,
        within=0,
    )
    name = automation_name(city)
    wanted = Automation(
        name=name,
        description=f"An SLA breach (R13) of a case in city {city} calls the webhook {block_name(city)} (created by `healthpass automations breach-webhook`).",
        enabled=True,
        trigger=trigger,
        actions=[CallWebhook(block_document_id=block_id, payload=BREACH_PAYLOAD)],
    )
    with get_client(sync_client=True) as client:
        existing = client.read_automations_by_name(name=name)
    if existing:
        wanted.id = existing[0].id
        wanted.update()
        return Ensured(automation_id=existing[0].id, block_document_id=block_id, name=name, block_name=block_name(city), created=False)
    created = wanted.create()
    return Ensured(automation_id=created.id, block_document_id=block_id, name=name, block_name=block_name(city), created=True)


def default_api_url() -> str:
    """PREFECT_API_URL when set (as for every Prefect client), else the system's own server."""
    from cases.settings import get_settings

    return os.environ.get("PREFECT_API_URL") or get_settings().effective_prefect_api_url


@contextmanager
def prefect_api(url: str) -> Iterator[None]:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: url}):
        yield


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


@automations_app.command("breach-webhook")
def breach_webhook(
    city: str = typer.Option(..., help="the city's code (GB/T 2260), e.g. 370100 Jinan, 370200 Qingdao (3701 is read as 370100)"),
    url: str = typer.Option(..., help="the webhook to POST to (JSON: the event, the case, the responsible community or unit)"),
    header: list[str] = typer.Option([], "--header", help="'Name: value' sent with every call, e.g. an Authorization header (stored in the block as a secret); repeatable"),
    api_url: Optional[str] = typer.Option(None, help="the Prefect API (default PREFECT_API_URL, else HEALTHPASS_PREFECT_API_URL or the local server)"),
) -> None:
    """An SLA breach (R13) of a case in CITY calls URL: creates or updates (by name) a Prefect
    automation and its Webhook block. Run it again to change the URL or the headers."""
    try:
        code = city_code(city)
    except ValueError as exc:
        _fail(str(exc))
    if not re.match(r"https?://", url):
        _fail(f"not an http(s) URL: {url!r}")
    headers = {}
    for h in header:
        key, sep, value = h.partition(":")
        if not sep or not key.strip():
            _fail(f"a header is 'Name: value', got {h!r}")
        headers[key.strip()] = value.strip()
    _check_city(code)
    target = api_url or default_api_url()
    try:
        with prefect_api(target):
            done = ensure_breach_webhook(city=code, url=url, headers=headers)
    except Exception as exc:  # a CLI message, not a traceback: Prefect unreachable, refused, …
        _fail(f"could not create the automation on {target}: {exc}")
    typer.echo(
        f"{'created' if done.created else 'updated'} automation {done.name!r} ({done.automation_id}): "
        f"{BREACH_EVENT} related to healthpass.region.{code} (role city) -> POST {url} via Webhook block {done.block_name!r} ({done.block_document_id})"
    )


def _check_city(code: str) -> None:
    """The code must be a city of the region tree (a typo would create an automation that never fires)."""
    from cases.db import session_scope
    from cases.models import Region, RegionLevel

    try:
        with session_scope() as session:
            region = session.get(Region, code)
    except Exception as exc:
        _fail(f"cannot read the region tree from the store: {exc}")
    if region is None or region.level != RegionLevel.city:
        _fail(f"{code} is not a city of the region tree (see `healthpass seed`)")
