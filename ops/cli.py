"""The `healthpass` command line (Typer)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import date, datetime
from enum import Enum
from typing import Optional

import typer

from cases.clock import SHANGHAI, now
from cases.settings import get_settings
from ops.prefect_server import with_server_defaults

app = typer.Typer(help="healthpass: Shandong Health Pass Card case management.", no_args_is_help=True, pretty_exceptions_enable=False)
db_app = typer.Typer(help="The case store.", no_args_is_help=True)
users_app = typer.Typer(help="Accounts.", no_args_is_help=True)
sla_app = typer.Typer(help="SLA clocks (R10-R13).", no_args_is_help=True)
calendar_app = typer.Typer(help="The working calendar: official schedules and provincial overrides.", no_args_is_help=True)
keys_app = typer.Typer(help="Pass signing keys.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(sla_app, name="sla")
app.add_typer(calendar_app, name="calendar")
app.add_typer(keys_app, name="keys")
pass_app = typer.Typer(help="Passes: offline verification and revocation.", no_args_is_help=True)
data_app = typer.Typer(help="Comparison registries.", no_args_is_help=True)
audit_app = typer.Typer(help="Integrity of the case event log.", no_args_is_help=True)
app.add_typer(pass_app, name="pass")
app.add_typer(data_app, name="data")
app.add_typer(audit_app, name="audit")


def fail(message: str) -> None:
    """A CLI message, not a traceback."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


def _session():
    from cases.db import session_scope

    return session_scope()


# ------------------------------------------------------------------- store ---

@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the migrations (SQLite or PostgreSQL, from HEALTHPASS_DATABASE_URL)."""
    from cases.db import upgrade

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade()
    typer.echo(f"store at head: {settings.resolved_database_url.split('@')[-1]}")


@app.command()
def seed(
    no_history: bool = typer.Option(False, "--no-history", help="only regions, accounts and registry samples: no demo cases (also HEALTHPASS_DEMO_HISTORY=false)"),
) -> None:
    """Load the demo regions, accounts and registry samples, then three weeks of demo cases
    played through the real services up to now (idempotent: a second run adds nothing)."""
    from cases.seed import DEMO_PASSWORD, seed as run_seed

    settings = get_settings()
    with _session() as session:
        counts = run_seed(session, at=now(), hash_key=settings.secret("idhash"))
    typer.echo(f"seeded: {counts} (demo password: {DEMO_PASSWORD})")
    if no_history or not settings.demo_history:
        typer.echo("demo history: not seeded (--no-history or HEALTHPASS_DEMO_HISTORY=false)")
        return
    from cases.db import get_engine
    from cases.demo_history import seed_history

    try:
        history = seed_history(engine=get_engine(), settings=settings, now=now())
    except Exception as exc:  # noqa: BLE001 -- a message, not a traceback; the store may hold part of it
        fail(f"demo history stopped: {type(exc).__name__}: {exc} (`make reset` starts the demo store afresh)")
    typer.echo(f"demo history: {json.dumps(history)}")


# ------------------------------------------------------------------- users ---

class RoleName(str, Enum):
    applicant = "applicant"
    unit = "unit"
    issuer = "issuer"
    supervisor = "supervisor"
    auditor = "auditor"
    checkpoint = "checkpoint"
    admin = "admin"


@users_app.command("create")
def users_create(
    role: RoleName = typer.Option(..., help="the account's role"),
    username: str = typer.Option(...),
    password: str = typer.Option(..., help="at least 8 characters"),
    community: Optional[str] = typer.Option(None, help="issuer's community (village) code"),
    unit: Optional[str] = typer.Option(None, help="issuer's or unit account's unit code"),
    region: Optional[str] = typer.Option(None, help="supervisor's or checkpoint's region code"),
    full_name: str = typer.Option("", help="shown in the event log"),
) -> None:
    """Create an account scoped to a community, unit or region."""
    from cases.errors import DomainError
    from cases.models import Role
    from cases.seed import create_user

    try:
        with _session() as session:
            user = create_user(session, username=username, password=password, role=Role(role.value), at=now(), region=community or region, unit=unit, full_name=full_name)
    except DomainError as exc:
        fail(exc.message)
    typer.echo(f"created {user.role.value} {user.username} ({user.region_code or user.unit_code or 'province-wide'})")


# --------------------------------------------------------------------- SLA ---

def _parse_instant(text: str, option: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        fail(f"{option}: not an ISO 8601 date-time: {text!r}")
    if value.tzinfo is None:
        fail(f"{option}: give an offset (e.g. {text}+08:00); times without a zone are ambiguous")
    return value


class ChannelName(str, Enum):
    online = "online"
    counter = "counter"


@sla_app.command("due")
def sla_due(
    submitted: str = typer.Option(..., help="ISO 8601 with offset, e.g. 2026-02-13T15:00+08:00"),
    channel: ChannelName = typer.Option(..., help="online (6 working hours, R11) or counter (R10)"),
    needs_verification: bool = typer.Option(False, "--needs-verification", help="counter case needing verification: 6 clock hours"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Print the due time and the latest auto-issue time (R12) for a submission."""
    import sla

    from cases.db import session_scope
    from cases.services import sla_service

    at = _parse_instant(submitted, "--submitted")
    settings = get_settings()
    try:
        with session_scope() as session:
            cal = sla_service.calendar(session, settings)
    except Exception:
        cal = sla.WorkingCalendar(hours=sla.WorkingHours.parse(settings.working_hours))  # no store yet: official calendar only
    try:
        due = sla.compute_due(submitted_at=at, channel=sla.Channel(channel.value), needs_verification=needs_verification, calendar=cal)
    except sla.CalendarNotCovered as exc:
        fail(str(exc))
    latest = sla.auto_issue_by(breach_at=due)
    result = {"due_at": due.astimezone(SHANGHAI).isoformat(), "auto_issue_by": latest.astimezone(SHANGHAI).isoformat()}
    if as_json:
        typer.echo(json.dumps(result))
    else:
        typer.echo(f"due at:        {result['due_at']}\nauto-issue by: {result['auto_issue_by']}")


@sla_app.command("explain")
def sla_explain(case_id: str) -> None:
    """The case's clock as a timeline: started, paused, warnings, breach, escalations, auto-issue."""
    from sqlmodel import select

    from cases.errors import NotFound
    from cases.events import timeline
    from cases.models import ResponsibilityRecord, SlaTimer
    from cases.services.applications import get_application

    with _session() as session:
        try:
            application = get_application(session, case_id)
        except NotFound as exc:
            fail(exc.message)
        typer.echo(f"{application.reference} ({application.channel}, {application.status.value})")
        if application.sla_due_at:
            typer.echo(f"  due at {application.sla_due_at.astimezone(SHANGHAI).isoformat()}")
        for event in timeline(session, application.id):
            if event.action.startswith(("sla_", "auto_issue", "decision_", "submitted", "audit_assigned", "supplement", "contact", "observation")):
                typer.echo(f"  {event.at.astimezone(SHANGHAI):%Y-%m-%d %H:%M:%S}  {event.action:<24} {event.actor:<12} {event.reason or ''} {json.dumps(event.data, ensure_ascii=False) if event.data else ''}")
        for timer in session.exec(select(SlaTimer).where(SlaTimer.application_id == application.id).order_by(SlaTimer.due_at)):
            state = "fired" if timer.fired_at else "cancelled" if timer.cancelled_at else "pending"
            typer.echo(f"  timer {timer.kind:<14} due {timer.due_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M}  {state}")
        record = session.exec(select(ResponsibilityRecord).where(ResponsibilityRecord.application_id == application.id)).first()
        if record:
            typer.echo(f"  responsibility: {record.responsible_kind} {record.responsible_code}, breach {record.breach_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M}, issuers {record.issuers}, outcome {record.outcome}")


class DayKind(str, Enum):
    workday = "workday"
    holiday = "holiday"


@calendar_app.command("set")
def calendar_set(day: str = typer.Argument(..., help="YYYY-MM-DD"), kind: DayKind = typer.Argument(...), reason: str = typer.Option(..., help="e.g. provincial extension of the Spring Festival")) -> None:
    """Mark a date as a working day or a holiday for the whole province (overrides the official calendar).
    Open deadlines that reach the day are recomputed and evented, as on the admin page."""
    from cases.errors import DomainError
    from cases.services.calendar_service import set_day

    try:
        d = date.fromisoformat(day)
    except ValueError:
        fail(f"not a date (YYYY-MM-DD): {day!r}")
    with _session() as session:
        try:
            recomputed = set_day(session=session, day=d, working=kind == DayKind.workday, note=reason, by=os.environ.get("USER") or "cli", at=now(), settings=get_settings())
        except DomainError as exc:
            fail(exc.message)
    typer.echo(f"{d} is now a {kind.value} ({reason}); recomputed {len(recomputed)} open deadline(s)")


@calendar_app.command("import")
def calendar_import(
    file: str = typer.Argument(..., help="the year's official schedule; format: see the README or docs/calendar-2027.example.txt"),
    dry_run: bool = typer.Option(False, "--dry-run", help="validate the file and show what it holds; store nothing"),
) -> None:
    """Load a year's official schedule (the State Council's holidays and adjusted working days).
    Open deadlines computed on the provisional calendar are recomputed and evented."""
    import hashlib
    from pathlib import Path

    from cases.services.calendar_service import import_schedule
    from sla.schedule import ScheduleError, parse_schedule

    path = Path(file)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}")
    if len(raw) > 256 * 1024:
        fail(f"{file} is {len(raw)} bytes: a year's schedule is a few dozen lines")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        fail(f"{file} is not UTF-8 text (byte {exc.start})")
    try:
        schedule = parse_schedule(text)
    except ScheduleError as exc:
        for lineno, message in exc.problems:
            typer.secho(f"{file}:{lineno}: {message}" if lineno else f"{file}: {message}", fg=typer.colors.RED, err=True)
        fail(f"{file}: {len(exc.problems)} problem(s); nothing imported")
    summary = f"{schedule.year}: {len(schedule.holidays)} holidays, {len(schedule.workdays)} adjusted working days"
    if dry_run:
        for d, (working, name) in schedule.days().items():
            typer.echo(f"  {d} {d:%a}  {'workday' if working else 'holiday'}  {name}")
        typer.echo(f"valid: {summary} (dry run, nothing stored)")
        return
    with _session() as session:
        result = import_schedule(
            session=session, schedule=schedule, at=now(), by=os.environ.get("USER") or "cli", source_name=path.name,
            sha256=hashlib.sha256(raw).hexdigest(), settings=get_settings(),
        )
    typer.echo(f"imported the official schedule of {summary}{' (replacing the earlier import)' if result.replaced else ''}")
    for d in result.kept_provincial:
        typer.echo(f"  kept the provincial override of {d} (it wins over the official day)")
    typer.echo(f"recomputed {len(result.recomputed)} provisional deadline(s)")
    for case, old, new in result.recomputed:
        show = lambda v: v.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if v else "-"  # noqa: E731
        typer.echo(f"  {case}: {show(old)} -> {show(new)}")


@calendar_app.command("status")
def calendar_status() -> None:
    """Which years run on an official schedule and which on the provisional calendar."""
    from sqlmodel import select

    from cases.models import CalendarYear
    from cases.services import sla_service
    from cases.services.calendar_service import missing_years

    at = now()
    with _session() as session:
        cal = sla_service.calendar(session, get_settings())
        rows = {r.year: r for r in session.exec(select(CalendarYear))}
    year = at.astimezone(SHANGHAI).year
    for y in range(year - 1, year + 3):
        r = rows.get(y)
        if r is not None and r.imported_at is not None:
            state = f"official (imported {r.imported_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M} from {r.source_name}, sha256 {(r.sha256 or '')[:12]})"
        elif cal.covers(y):
            state = "official (chinesecalendar)"
        else:
            state = "PROVISIONAL: statutory holidays only, no adjusted working days"
        typer.echo(f"{y}: {state}")
    missing = missing_years(cal, at)
    if missing:
        typer.secho(f"warning: import the official schedule of {', '.join(map(str, missing))} (healthpass calendar import FILE)", fg=typer.colors.YELLOW, err=True)


# -------------------------------------------------------------------- keys ---

@keys_app.command("rotate")
def keys_rotate() -> None:
    """Start signing with a new key; the old one stays published until its passes expire.
    The rotation is written to the administration log, as from the admin page."""
    from cases.admin.keys import rotate
    from cases.services.passes import keystore

    with _session() as session:
        kid = rotate(session=session, store=keystore(str(get_settings().keys_dir)), by=os.environ.get("USER") or "cli", at=now())
    typer.echo(f"active key: {kid}")


# ------------------------------------------------------------------ passes ---

def _fetch(url: str, *, cache: Optional[str]) -> Optional[str]:
    """The text at ``url``; offline, the cached copy of an earlier fetch (or None)."""
    from pathlib import Path

    import httpx

    try:
        return httpx.get(url, timeout=5, follow_redirects=True).raise_for_status().text
    except httpx.HTTPError as exc:
        cached = Path(cache) if cache else None
        if cached and cached.exists():
            typer.secho(f"offline ({type(exc).__name__}): using the cached copy {cached}", fg=typer.colors.YELLOW, err=True)
            return cached.read_text()
        fail(f"cannot fetch {url} and no cached copy: {type(exc).__name__}: {exc}")
    return None


def _keep(cache: Optional[str], text: str) -> None:
    """Keep a fetched document for offline use (after it was checked)."""
    from pathlib import Path

    if cache:
        try:
            Path(cache).parent.mkdir(parents=True, exist_ok=True)
            Path(cache).write_text(text)
        except OSError as exc:
            typer.secho(f"cannot keep a copy in {cache}: {exc}", fg=typer.colors.YELLOW, err=True)


def _read(source: str, *, cache: Optional[str]) -> str:
    """A document from a file or URL (a URL's copy is cached for offline use by the caller)."""
    from pathlib import Path

    if _is_url(source):
        return _fetch(source, cache=cache) or ""
    try:
        return Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {source}: {exc}")
    return ""


def _load_json(source: str, *, cache: Optional[str]) -> dict:
    """A JWKS from a file or URL; a URL's copy is cached for offline use."""
    text = _read(source, cache=cache)
    try:
        data = json.loads(text)
    except ValueError as exc:
        fail(f"{source} is not JSON: {exc}")
    if not isinstance(data, dict):
        fail(f"{source} is not a JSON object")
    if _is_url(source):
        _keep(cache, text)
    return data


def _is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def _server_of(jwks_url: str) -> str:
    """The server a JWKS URL belongs to: the part before ``/.well-known/jwks.json``, else its origin."""
    from urllib.parse import urlsplit

    marker = "/.well-known/jwks.json"
    head = jwks_url.split("?", 1)[0]
    if head.endswith(marker):
        return head[: -len(marker)]
    parts = urlsplit(jwks_url)
    return f"{parts.scheme}://{parts.netloc}"


def _cache_name(cache_dir: str, kind: str, url: str) -> str:
    """One cached copy per server, so lists and keys of two servers never mix."""
    import hashlib

    return f"{cache_dir}/{kind}-{hashlib.sha256(url.encode()).hexdigest()[:12]}"


def _checkpoint_temperature(value: float) -> float:
    """Like the API: a measured body temperature is a finite number between 30 and 45 °C."""
    import math

    if not math.isfinite(value) or not 30.0 <= value <= 45.0:
        raise typer.BadParameter(f"{value} is not a measured body temperature: give °C between 30 and 45, e.g. 36.5")
    return value


def _signed_revocations(source: str, keys: dict, *, cache: Optional[str]):
    """Read and check the signed revocation list; refuse to go on (exit 2) if it cannot be trusted."""
    from cases.codes.revocation_list import RevocationListError, verify_revocation_list

    text = _read(source, cache=cache).strip()
    if text.startswith("{"):
        fail(f"{source} is an unsigned list; give the signed one (GET /.well-known/revocations.jws): cannot decide")
    try:
        listed = verify_revocation_list(text, keys, now=now())
    except RevocationListError as exc:
        fail(f"{exc} ({source}): cannot decide")
    if _is_url(source):
        _keep(cache, text)
    return listed


@pass_app.command("verify")
def pass_verify(
    qr_text: str = typer.Argument(..., help="the scanned QR text (SDHP1:... or the bare JWS)"),
    temperature: float = typer.Option(..., callback=_checkpoint_temperature, help="°C measured at the checkpoint (30-45)"),
    jwks: Optional[str] = typer.Option(None, help="JWKS file or URL (/.well-known/jwks.json); default: the --server's, else this system's keys"),
    revocations: Optional[str] = typer.Option(None, help="signed revocation list, file or URL (/.well-known/revocations.jws); default: fetched from the server"),
    server: Optional[str] = typer.Option(None, help="the healthpass server (e.g. https://hp.example.gov.cn): keys and revocation list are fetched from it"),
    cache_dir: str = typer.Option("var/checkpoint-cache", help="where fetched keys and lists are kept for offline use"),
    id_number: Optional[str] = typer.Option(None, "--id-number", help="the number of the ID document shown: says whether the pass was issued to it (needs this system's idhash secret)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Verify a pass offline (same decision as POST /api/v1/checkpoint/verify).

    Exit 0 PASS, 1 DENY, 2 cannot decide: never PASS without a signed revocation list
    that is still fresh (before its next_update).
    """
    from datetime import timedelta

    from cases.codes import PassCodeError, decide, keys_from_jwks
    from cases.services.passes import keystore

    settings = get_settings()
    base = server.rstrip("/") if server else (_server_of(jwks) if jwks and _is_url(jwks) else None)
    if base is not None and not _is_url(base):
        fail(f"--server must be an http(s) URL, not {base!r}")
    jwks_source = jwks or (f"{base}/.well-known/jwks.json" if base else None)
    if jwks_source:
        try:
            keys = keys_from_jwks(_load_json(jwks_source, cache=_cache_name(cache_dir, "jwks", jwks_source) + ".json"))
        except (PassCodeError, ValueError, KeyError, TypeError) as exc:
            fail(f"{jwks_source} is not a usable JWKS: {exc}")
    else:
        store = keystore(str(settings.keys_dir))
        store.ensure_active(now=now())
        keys = store.public_keys(now=now(), validity=timedelta(days=settings.pass_validity_days))
    list_source = revocations or (f"{base}/.well-known/revocations.jws" if base else None)
    if list_source:
        listed = _signed_revocations(list_source, keys, cache=_cache_name(cache_dir, "revocations", list_source) + ".jws")
    elif not jwks_source:
        # This system's own store: the list is signed here and checked like any other.
        from cases.codes.revocation_list import RevocationListError, verify_revocation_list
        from cases.services.revocation_list import signed_revocation_list

        with _session() as session:
            signed = signed_revocation_list(session=session, settings=settings, now=now())
        try:
            listed = verify_revocation_list(signed, keys, now=now())
        except RevocationListError as exc:
            fail(f"{exc} (this system's store): cannot decide")
    else:
        fail("no revocation list: give --revocations FILE (the signed /.well-known/revocations.jws) or --server URL: cannot decide without fresh revocation data")
    d = decide(token=qr_text, keys=keys, revoked=listed.revoked, now=now(), temperature=temperature, fever_threshold=settings.fever_threshold)
    out = {
        "result": d.result,
        "reasons": d.reasons,
        "colour": d.colour,
        "valid_until": d.valid_until.isoformat() if d.valid_until else None,
        "masked_name": d.masked_name,
        "revocations": {"version": listed.version, "issued_at": listed.issued_at.isoformat(), "next_update": listed.next_update.isoformat()},
    }
    if id_number is not None:
        out["id_match"] = _id_match(d, id_number, settings)
    if as_json:
        typer.echo(json.dumps(out, ensure_ascii=False))
    else:
        typer.secho(f"{d.result}  {', '.join(d.reasons) or 'valid pass, normal temperature'}", fg=typer.colors.GREEN if d.passed else typer.colors.RED)
        if d.colour:
            typer.echo(f"{d.masked_name}  {d.colour}  valid until {out['valid_until']}")
        typer.echo(f"revocation list of {out['revocations']['issued_at']}, fresh until {out['revocations']['next_update']}")
        if id_number is not None:
            typer.echo({True: "ID document: matches this pass", False: "ID document: does NOT match this pass", None: "ID document: this pass cannot tell"}[out["id_match"]])
    raise typer.Exit(0 if d.passed else 1)


def _id_match(d, id_number: str, settings) -> bool | None:
    """The idh check needs the checkpoint key, derived from this system's idhash secret; a
    machine without that secret cannot check (never a guessed answer)."""
    from cases.services.checkpoint import id_document_matches

    if not (settings.data_dir / "secrets" / "idhash.key").exists():
        fail("--id-number: this machine has no idhash secret (data_dir/secrets/idhash.key), so the ID document cannot be checked here")
    return id_document_matches(d, id_number, settings=settings)


@pass_app.command("revoke")
def pass_revoke(pass_id: str, reason: str = typer.Option(..., help="why (kept in the case timeline)")) -> None:
    """Revoke a pass. Every running API process has it when this returns (pushed, R4); offline
    checkpoints learn it from the revocation list."""
    from cases.models import Pass
    from cases.services.passes import revoke

    with _session() as session:
        p = session.get(Pass, pass_id)
        if p is None:
            fail(f"pass {pass_id} not found")
        revoke(session=session, pass_=p, reason=reason, by="cli", at=now())
    typer.echo(f"revoked {pass_id}")


LEGACY_MAPPING_COLUMNS = ("line", "status", "legacy_number", "card_name", "colour", "masked_name", "region", "issued_at", "valid_until", "expired", "revoked", "pass_id", "card_number")


@pass_app.command("import-legacy")
def pass_import_legacy(
    file: str = typer.Argument(..., help="CSV: card_name,name,id_type,id_number,colour,issued_at,region[,legacy_number]"),
    out: Optional[str] = typer.Option(None, "--out", help="write a CSV mapping each row to its new card number and pass id (for reprinting)"),
) -> None:
    """Import cards issued under the old name; they verify under the new name (R1). Re-running is harmless."""
    import csv
    from pathlib import Path

    from cases.services.legacy import import_legacy_cards

    try:
        text = Path(file).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {file}: {exc}")
    out_path = Path(out) if out else None
    if out_path is not None and (out_path.is_dir() or not out_path.parent.is_dir()):
        fail(f"--out {out}: not a file in an existing directory")
    try:
        with _session() as session:
            report = import_legacy_cards(session=session, text=text, at=now(), settings=get_settings())
    except ValueError as exc:
        fail(str(exc))
    typer.echo(f"legacy cards: {report.imported} imported, {report.already_present} already present, {len(report.rejected)} rejected ({report.expired} expired)")
    for card in report.cards:
        if card.expired:
            typer.echo(f"  line {card.line}: expired on {card.valid_until.astimezone(SHANGHAI).isoformat()} ({card.card_number})")
    for row in report.rejected:
        typer.echo(f"  line {row['line']}: {row['reason']}")
    if out_path is not None:
        try:
            with out_path.open("w", newline="", encoding="utf-8") as fh:
                writer = csv.writer(fh)
                writer.writerow(LEGACY_MAPPING_COLUMNS)
                for c in report.cards:
                    writer.writerow([c.line, c.status, c.legacy_number, c.card_name, c.colour, c.masked_name, c.region, c.issued_at.astimezone(SHANGHAI).isoformat(), c.valid_until.astimezone(SHANGHAI).isoformat(), "yes" if c.expired else "no", "yes" if c.revoked else "no", c.pass_id, c.card_number])
        except OSError as exc:
            fail(f"the cards are imported, but {out} could not be written ({exc}); run the import again with --out to get the mapping")
        typer.echo(f"mapping of {len(report.cards)} card(s) written to {out}")


@data_app.command("import")
def data_import(source: str = typer.Argument(..., help="risk_areas | close_contacts | confirmed_cases | roaming | border_entries"), file: str = typer.Argument(..., help="CSV file")) -> None:
    """Load a registry feed; raw ID numbers and phones are stored only as keyed hashes."""
    from pathlib import Path

    from cases.comparison.csv_import import SOURCES
    from cases.services.registries import import_csv

    if source not in SOURCES:
        fail(f"unknown source {source!r}; one of {', '.join(SOURCES)}")
    try:
        text = Path(file).read_text(encoding="utf-8-sig")
    except OSError as exc:
        fail(f"cannot read {file}: {exc}")
    settings = get_settings()
    try:
        with _session() as session:
            report = import_csv(session=session, source=source, text=text, at=now(), hash_key=settings.secret("idhash"), relative_dates=False)
    except ValueError as exc:
        fail(str(exc))
    typer.echo(f"{source}: {report.accepted} imported, {report.duplicates} already present, {len(report.rejected)} rejected")
    for row in report.rejected:
        typer.echo(f"  line {row['line']}: {row['reason']}")


@audit_app.command("verify-chain")
def audit_verify_chain(case_id: Optional[str] = typer.Argument(None)) -> None:
    """Check that no case event was altered or removed (hash chain per case)."""
    from cases.events import verify_chain

    with _session() as session:
        problems = verify_chain(session, case_id)
    for p in problems:
        typer.secho(p, fg=typer.colors.RED)
    if problems:
        raise typer.Exit(1)
    typer.echo("event log intact")


retention_app = typer.Typer(help="Retention of personal data.", no_args_is_help=True)
app.add_typer(retention_app, name="retention")


@retention_app.command("run")
def retention_run(days: Optional[int] = typer.Option(None, help="closed for longer than this (default HEALTHPASS_RETENTION_DAYS)")) -> None:
    """Pseudonymise closed cases' personal data; statistics and responsibility records stay."""
    from datetime import timedelta

    from cases.services.privacy import purge_closed

    settings = get_settings()
    with _session() as session:
        n = purge_closed(session=session, now=now(), older_than=timedelta(days=days if days is not None else settings.retention_days))
    typer.echo(f"personal data purged from {n} closed case(s)")


@app.command()
def simulate(
    applications: int = typer.Option(100, min=0, help="how many applications to submit"),
    rate: float = typer.Option(2.0, min=0.01, help="applications per second"),
    issuers_late_share: float = typer.Option(0.0, min=0.0, max=1.0, help="share of audits left undecided (they breach their SLA)"),
    base_url: str = typer.Option("", help="the running system (default http://HEALTHPASS_HOST:HEALTHPASS_PORT)"),
    seed: int = typer.Option(1, help="random seed: the same run every time"),
) -> None:
    """Drive a running system through its public API like a province (arrivals, standard
    applications across cities, issuers on time or late, daily reports, checkpoint scans)."""
    import httpx

    from cases.simulate import simulate as run

    settings = get_settings()
    url = base_url or f"http://{settings.host}:{settings.port}"
    try:
        summary = run(base_url=url, applications=applications, rate=rate, issuers_late_share=issuers_late_share, seed=seed, progress=True)
    except ValueError as exc:
        fail(str(exc))
    except (OSError, httpx.HTTPError) as exc:
        fail(f"cannot reach {url}: {exc} (is `make run` running?)")
    typer.echo(json.dumps(summary, ensure_ascii=False, indent=2, default=str))


# ------------------------------------------------------------------- serve ---

def prefect_env(settings) -> dict[str, str]:
    env = os.environ.copy()
    env.setdefault("PREFECT_HOME", str(settings.prefect_home.resolve()))
    env["PREFECT_API_URL"] = settings.effective_prefect_api_url
    return with_server_defaults(env)


def wait_http(url: str, *, seconds: float, proc: subprocess.Popen | None = None) -> bool:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    return False


def uvicorn_argv(app: str, *, host: str, port: int, workers: int = 1) -> list[str]:
    """The API server's command line, shared by `serve` and bench/ (which must measure what ships).
    uvloop and httptools are named, not left to `auto`: if they failed to import, auto would
    fall back to asyncio + h11 silently (verify, 2 workers: 726 against 4,300-7,400 req/s)."""
    argv = [sys.executable, "-m", "uvicorn", app, "--host", host, "--port", str(port), "--no-access-log", "--loop", "uvloop", "--http", "httptools"]
    return argv + (["--workers", str(workers)] if workers > 1 else [])


@app.command()
def serve(host: Optional[str] = typer.Option(None), port: Optional[int] = typer.Option(None), workers: int = typer.Option(1, min=1, help="API worker processes (the HTTP benchmark measures 1 and 2)")) -> None:
    """Start the whole system: the API + UI, a local Prefect server (unless HEALTHPASS_PREFECT_API_URL
    is set) and one healthpass worker. A child that dies is restarted (back-off 1 s doubling to 30 s);
    the API keeps accepting cases meanwhile. Ctrl-C stops them all."""
    import logging

    from ops.supervisor import Child, Supervisor

    settings = get_settings()
    host, port = host or settings.host, port or settings.port
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.prefect_home.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s serve: %(message)s", datefmt="%Y-%m-%d %H:%M:%S")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per readiness probe
    exe = sys.executable
    # The API first: it answers within seconds, whatever Prefect (up to minutes on a busy machine) does.
    probe = "127.0.0.1" if host in ("0.0.0.0", "::", "") else f"[{host}]" if ":" in host else host  # a listen-on-all address is no URL host
    children = [Child("api", uvicorn_argv("web.main:app", host=host, port=port, workers=workers), ready_url=f"http://{probe}:{port}/healthz")]
    if not settings.prefect_api_url:
        typer.echo(f"starting Prefect server on http://127.0.0.1:{settings.prefect_port} (data in {settings.prefect_home})")
        # Prefect's own server app, as `prefect server start` runs it, with short Retry-Afters on
        # SQLite's busy 503s (ops/prefect_server.py says why).
        argv = [exe, "-m", "ops.prefect_server", "--host", "127.0.0.1", "--port", str(settings.prefect_port)]
        children.append(Child("prefect", argv, nice=settings.background_nice, ready_url=f"http://127.0.0.1:{settings.prefect_port}/api/health"))
    # The worker waits for Prefect itself (and says so in /healthz), so it starts at once.
    children.append(Child("worker", [exe, "-m", "ops.cli", "worker"], nice=settings.background_nice))
    typer.echo(f"healthpass API + UI on http://{host}:{port}  (Prefect UI: {settings.effective_prefect_api_url.removesuffix('/api')})")
    Supervisor(children, env=prefect_env(settings)).run()


@app.command()
def worker() -> None:
    """One healthpass worker: executes the `healthpass` work pool's flow runs in this process and
    drains the store's outbox (started by `serve`; start any number, on any machine). The same as
    `prefect worker start --pool healthpass --type healthpass`, plus waiting for Prefect, the
    deployments registered and a heartbeat for /healthz."""
    import signal

    from workers.main import main

    # SIGTERM ends the process at once, as SIGKILL would: a run cut short is left Running, and
    # the other workers requeue it when this one's heartbeats stop (its steps are idempotent).
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    try:
        main()
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group; `serve` reports the stop
        pass


# ------------------------------------------------------------------ trends ---

from ops.automations import automations_app  # noqa: E402 -- a sub-app, registered beside the others

app.add_typer(automations_app, name="automations")

trends_app = typer.Typer(help="Trends for supervisors: daily roll-ups per region.", no_args_is_help=True)
app.add_typer(trends_app, name="trends")


def _parse_day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"{option}: expected a date YYYY-MM-DD, got {text!r}")
        raise


@trends_app.command("rollup")
def trends_rollup(
    first: Optional[str] = typer.Option(None, "--from", help="first local day YYYY-MM-DD (default: yesterday)"),
    last: Optional[str] = typer.Option(None, "--to", help="last local day YYYY-MM-DD (default: --from)"),
) -> None:
    """Recompute the roll-ups of the given days (idempotent; the SLA sweep does ended days itself)."""
    from datetime import timedelta

    from cases.errors import DomainError
    from cases.services import trends

    at = now()
    start = _parse_day(first, "--from") if first else at.astimezone(SHANGHAI).date() - timedelta(days=1)
    end = _parse_day(last, "--to") if last else start
    try:
        with _session() as session:
            days = trends.rollup_range(session=session, start=start, end=end, settings=get_settings(), now=at)
    except DomainError as exc:
        fail(exc.message)
    typer.echo(f"rolled up {days} day(s): {start.isoformat()} .. {end.isoformat()}")


if __name__ == "__main__":
    app()
