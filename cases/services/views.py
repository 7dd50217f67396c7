"""Read models of a case and of an audit task, shared by the API and the pages.

Moved here from api/routers (issue 13): `api/` and `ui/` both call these and never import
each other. Pure reads: nothing here writes to the store.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, select

from cases.codes.claims import mask_name
from cases.events import timeline
from cases.models import Applicant, Application, AuditTask, ComparisonRecord, Pass, Region, ResponsibilityRecord
from cases.services.passes import SUPERSEDED, active_pass
from cases.settings import Settings

AMBER_SECONDS = 2 * 3600  # the issuer queue's colour: less than 2 hours left is amber


class PassSummary(BaseModel):
    id: str
    colour: str
    valid_until: datetime
    card_number: str
    qr_url: str
    card_url: str


class Holder(BaseModel):
    kind: str = Field(description="community or unit (R13)")
    code: str


class ComparisonSummary(BaseModel):
    outcome: str | None
    red_list: bool
    hits: list[Any]


class TaskView(BaseModel):
    """An audit task as an issuer's queue shows it (response model of GET /api/v1/audit-tasks)."""

    model_config = ConfigDict(extra="allow")  # the queue may add fields; they are not dropped

    task_id: str
    application_id: str
    reference: str
    status: str
    channel: str
    kind: str
    holder: Holder
    claimed_by: str | None
    due_at: datetime | None
    provisional: bool = Field(description="the due time lies in a year without an official schedule yet (R11)")
    time_left_seconds: float | None
    paused_at: datetime | None = Field(default=None, description="waiting for the applicant since then: the clock is paused and time_left_seconds is what is left when it resumes")
    sla_colour: str = Field(description="green, amber (< 2 h left), red (overdue) or grey (no clock running: none yet, or paused waiting for the applicant)")
    comparison: ComparisonSummary
    missing_items: list[Any]
    contact_attempts: int


class CaseView(BaseModel):
    """A case as staff and its applicant read it (response model of GET /api/v1/applications/{id});
    personal data masked."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: str
    reference: str
    kind: str
    channel: str
    status: str
    decision: str | None
    submitted_at: datetime
    community: dict[str, Any]
    applicant: dict[str, Any] = Field(description="masked name, ID number and phone")
    unit_code: str | None
    comparison: dict[str, Any] | None
    audit: dict[str, Any] | None
    sla: dict[str, Any]
    observation_ends_at: datetime | None
    responsibility: dict[str, Any] | None
    pass_: PassSummary | None = Field(default=None, alias="pass")
    revoked_pass: dict[str, Any] | None = Field(default=None, description="the case's last revoked pass when it has no valid one: card number, colour, revoked_at, reason (superseded: the newer pass's case, R2)")
    rejection: dict[str, Any] | None = Field(default=None, description="a rejected case's reason code, explanation and decision time")
    flow_run: dict[str, Any]
    timeline: list[dict[str, Any]]


def pass_summary(session: Session, application_id: str) -> PassSummary | None:
    p = active_pass(session, application_id)
    if p is None:
        return None
    return PassSummary(id=p.id, colour=p.colour, valid_until=p.valid_until, card_number=p.card_number, qr_url=f"/api/v1/passes/{p.id}/qr.png", card_url=f"/api/v1/passes/{p.id}/card")


def time_left_seconds(app: Application, now: datetime, cal) -> float | None:
    """SLA time left: working time for online cases (R11), clock time at the counter (R10);
    a paused clock (awaiting the applicant) is read at the moment it paused."""
    if app.sla_due_at is None:
        return None
    ref = app.sla_paused_at or now
    if app.channel == "counter":
        return (app.sla_due_at - ref).total_seconds()
    if app.sla_due_at > ref:
        return cal.working_time_between(ref, app.sla_due_at).total_seconds()
    return -cal.working_time_between(app.sla_due_at, ref).total_seconds()


def task_view(task: AuditTask, app: Application, now: datetime, cal, contacts: int, hits: list | None = None) -> dict[str, Any]:
    left = time_left_seconds(app, now, cal)
    colour = "grey"
    if left is not None and app.sla_paused_at is None:  # a paused clock is not "on time": grey, like no clock
        colour = "red" if left <= 0 else "amber" if left < AMBER_SECONDS else "green"
    return {
        "task_id": task.id,
        "application_id": app.id,
        "reference": app.reference,
        "status": task.status,
        "channel": app.channel,
        "kind": app.kind,
        "holder": {"kind": task.holder_kind, "code": task.holder_code},
        "claimed_by": task.claimed_by,
        "due_at": app.sla_due_at,
        # The due time lies in a year without an official schedule yet (R11): recomputed on import.
        "provisional": bool(app.sla_provisional),
        "time_left_seconds": left,
        # Waiting for the applicant (a supplement): the clock stands still at `paused_at`; what is
        # left is what the issuer will have once the applicant answers.
        "paused_at": app.sla_paused_at,
        "sla_colour": colour,
        "comparison": {"outcome": app.comparison_outcome, "red_list": app.red_list, "hits": hits or []},
        "missing_items": task.missing_items,
        "contact_attempts": contacts,
    }


def revoked_pass(session: Session, application_id: str, events: list) -> dict[str, Any] | None:
    """The case's last revoked pass when it has no valid one: the applicant must read that it was
    revoked, when and why, not "no pass yet" (a superseded pass names the case of the newer one, R2)."""
    if active_pass(session, application_id) is not None:
        return None
    p = session.exec(select(Pass).where(Pass.application_id == application_id, Pass.revoked_at.is_not(None)).order_by(Pass.revoked_at.desc())).first()
    if p is None:
        return None
    by_case = next((e.data.get("by_case") for e in reversed(events) if e.action == "pass_revoked" and (e.data or {}).get("pass_id") == p.id), None)
    return {"card_number": p.card_number, "colour": getattr(p.colour, "value", p.colour), "issued_at": p.issued_at, "revoked_at": p.revoked_at, "reason": p.revoke_reason,
            "superseded": p.revoke_reason == SUPERSEDED, "superseded_by_case": by_case}


def case_view(session: Session, app: Application, settings: Settings, now: datetime) -> dict[str, Any]:
    comparison = session.exec(select(ComparisonRecord).where(ComparisonRecord.application_id == app.id)).first()
    task = session.exec(select(AuditTask).where(AuditTask.application_id == app.id)).first()
    responsibility = session.exec(select(ResponsibilityRecord).where(ResponsibilityRecord.application_id == app.id)).first()
    community = session.get(Region, app.community_code)
    applicant = session.get(Applicant, app.applicant_id)
    events = timeline(session, app.id)
    return {
        "id": app.id,
        "reference": app.reference,
        "kind": app.kind,
        "channel": app.channel,
        "status": app.status,
        "decision": app.decision,
        "submitted_at": app.submitted_at,
        "community": {"code": app.community_code, "name": community.name_zh if community else None},
        # Masked by default; issuers read the full data through /personal-data, which is logged.
        "applicant": {"name": mask_name(applicant.name), "id": applicant.id_masked, "phone": applicant.phone_masked},
        "unit_code": app.unit_code,
        "comparison": None if comparison is None else {"outcome": comparison.outcome, "red_list": comparison.red_list, "hits": comparison.hits, "sources": comparison.sources, "rule_version": comparison.rule_version},
        "audit": None if task is None else {"task_id": task.id, "holder_kind": task.holder_kind, "holder_code": task.holder_code, "status": task.status, "missing_items": task.missing_items},
        "sla": {"started_at": app.sla_started_at, "due_at": app.sla_due_at, "provisional": bool(app.sla_provisional), "paused_at": app.sla_paused_at, "breached_at": app.breached_at},
        "observation_ends_at": app.observation_ends_at,
        "responsibility": None if responsibility is None else {"kind": responsibility.responsible_kind, "code": responsibility.responsible_code, "breach_at": responsibility.breach_at, "outcome": responsibility.outcome},
        "pass": pass_summary(session, app.id),
        "revoked_pass": revoked_pass(session, app.id, events),
        # Why a rejected case was rejected, read from the decision (the applicant sees it on top).
        "rejection": None if task is None or task.decision != "reject" else {"reason_code": task.reason_code, "explanation": task.explanation, "decided_at": task.decided_at},
        "flow_run": {"id": app.flow_run_id, "state": app.flow_state, "url": f"{settings.effective_prefect_api_url.removesuffix('/api')}/runs/flow-run/{app.flow_run_id}" if app.flow_run_id else None},
        "timeline": [{"seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action, "reason": e.reason, "before": e.before, "after": e.after, "data": e.data} for e in events],
    }


# ------------------------------------------------------------ the task page ---
# What an issuer reads on one task (issuer issue): places by name, the declared health status,
# the comparison in full, the supplement exchange with its answers and files, the contact
# details masked unless revealed (a logged read, cases.services.privacy).

REVEAL_MINUTES = 10  # an unmasked read shows on the task page this long, then masks again


def place_name(code: str | None) -> str:
    """A place of the region tree (Shandong: name in Chinese and English, with its city), a
    mainland prefecture or province outside Shandong, or a country (ISO alpha-3); the code
    itself when nothing is known."""
    if not code:
        return ""
    from cases.validation import _address_prefixes, country_name, region_index

    entry = region_index().get(code)
    if entry is not None:
        name = f"{entry['name_zh']} {entry['name_en']}" if entry["name_en"] != entry["name_zh"] else entry["name_zh"]
        parent = region_index().get(entry.get("county") or entry.get("city") or "")
        return f"{name}, {parent['name_zh']} {parent['name_en']}" if parent and entry["level"] in ("community", "unit", "county") else name
    if len(code) == 3 and code.isalpha():
        try:
            return f"{country_name(code)} ({code})"
        except (ValueError, KeyError):
            return code
    if len(code) == 6 and code.isdigit():
        prefixes = _address_prefixes()
        province = prefixes["provinces"].get(code[:2])
        prefecture = prefixes["prefectures"].get(code[:4])
        parts = [p for p in (province, prefecture if prefecture and prefecture != "市辖区" else None) if p]
        return f"{''.join(parts)} ({code})" if parts else code
    return code


def health_status(content: dict, fever_threshold: float) -> dict[str, Any]:
    """The declared temperature and symptoms, flagged abnormal at a fever or any symptom (R8, R12)."""
    health = content.get("health") or {}
    temperature = health.get("temperature")
    symptoms = list(health.get("symptoms") or [])
    fever = isinstance(temperature, (int, float)) and temperature >= fever_threshold
    return {"temperature": temperature, "symptoms": symptoms, "fever": fever, "abnormal": fever or bool(symptoms), "threshold": fever_threshold}


def comparison_detail(session: Session, application_id: str) -> dict[str, Any] | None:
    """The comparison as stored: each hit (registry, what matched), and the sources that were
    not ok (an incomplete comparison is never a silent clear)."""
    record = session.exec(select(ComparisonRecord).where(ComparisonRecord.application_id == application_id)).first()
    if record is None:
        return None
    troubled = [s for s in record.sources if s.get("status") != "ok"]
    return {
        "outcome": record.outcome,
        "red_list": record.red_list,
        "hits": record.hits,
        "sources": record.sources,
        "troubled": troubled,
        "incomplete": any(s.get("status") == "unavailable" for s in record.sources),
        "compared_at": record.compared_at,
    }


def supplement_exchange(session: Session, application_id: str) -> list[dict[str, Any]]:
    """Every supplement request and the applicant's answer to it, in order, with times and the
    files uploaded with each answer."""
    from cases.attachments.models import Attachment

    files = list(session.exec(select(Attachment).where(Attachment.application_id == application_id).order_by(Attachment.uploaded_at, Attachment.id)))
    rounds: list[dict[str, Any]] = []
    for e in timeline(session, application_id):
        if e.action == "supplement_requested":
            rounds.append({"requested_at": e.at, "requested_by": e.actor, "items": list(e.data.get("missing_items") or []), "answered_at": None, "answers": {}, "files": []})
        elif e.action == "supplement_supplied":
            if not rounds or rounds[-1]["answered_at"] is not None:
                rounds.append({"requested_at": None, "requested_by": None, "items": list(e.data.get("items") or []), "answered_at": None, "answers": {}, "files": []})
            ids = set(e.data.get("attachment_ids") or [])
            rounds[-1].update(answered_at=e.at, answers=dict(e.data.get("answers") or {}), files=[f for f in files if f.id in ids])
    return rounds


def recent_reveal(session: Session, application_id: str, user_id: str, now: datetime) -> dict[str, Any] | None:
    """This user's unmasked read of the case within the last REVEAL_MINUTES (the event that
    logged it: when and why), or None: then the page shows the contact details masked."""
    from datetime import timedelta

    for e in reversed(timeline(session, application_id)):
        if e.action == "personal_data_read" and e.actor == user_id:
            from cases.clock import aware

            if aware(e.at) >= now - timedelta(minutes=REVEAL_MINUTES):
                return {"at": e.at, "reason": e.reason, "until": aware(e.at) + timedelta(minutes=REVEAL_MINUTES)}
            return None
    return None
