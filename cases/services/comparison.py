"""Step 2 of R14: compare the declaration with the registries; publish the rule that decided."""
from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from cases.clock import SHANGHAI
from cases.comparison.base import SourceUnavailable
from cases.comparison.engine import (
    AUTO_ISSUE_WITHHELD_OUTCOMES,
    RED_LIST_OUTCOMES,
    SEVERITY,
    ComparisonResult,
    DeclarationFacts,
    compare,
)
from cases.comparison.rules import ruleset_for
from cases.declaration_schema import ApplicationCreate
from cases.events import record_event
from cases.models import (
    Application,
    AuditTask,
    ComparisonRecord,
    Declaration,
    Notification,
)
from cases.services import registries, sla_service
from cases.services.applications import latest_declaration
from cases.settings import Settings


def _compare(*, session: Session, declaration: Declaration, at: datetime, settings: Settings) -> ComparisonResult:
    payload = ApplicationCreate.model_validate(declaration.content, context={"today": declaration.declared_at.astimezone(SHANGHAI).date()})
    facts = DeclarationFacts.from_application(payload, hash_key=settings.secret("idhash"))
    return compare(declaration=facts, sources=registries.sources(session), now=at, fever_threshold=settings.fever_threshold)


def run_comparison(*, session: Session, application: Application, at: datetime, settings: Settings, accept_incomplete: bool, declaration: Declaration | None = None) -> ComparisonRecord:
    declaration = declaration or latest_declaration(session, application.id)
    result = _compare(session=session, declaration=declaration, at=at, settings=settings)
    if result.outcome == "incomplete" and not accept_incomplete:
        troubled = [f"{s['name']}: {s['status']}" for s in result.to_dict()["sources"] if s["status"] != "ok"]
        raise SourceUnavailable("comparison incomplete (" + ", ".join(troubled) + "); retrying")
    ruleset = ruleset_for(at.astimezone(SHANGHAI).date())
    data = result.to_dict()
    record = ComparisonRecord(application_id=application.id, outcome=result.outcome, red_list=result.red_list, hits=data["hits"], sources=data["sources"], rule_version=ruleset.version, compared_at=at)
    session.add(record)
    session.flush()
    return record


def _hit_key(hit: dict) -> tuple:
    return (hit.get("source"), hit.get("record_key"), hit.get("outcome"))


def compare_amendment(*, session: Session, application: Application, declaration: Declaration, at: datetime, settings: Settings) -> ComparisonRecord | None:
    """R15: an amended declaration is compared again, against the registries as they are now.

    Returns None when the case has not been compared yet: the flow's comparison step then
    compares the latest version anyway. Otherwise the case's record gains the hits the first
    comparison did not have, each flagged `from_amendment` with its `declaration_version`, and
    keeps the earlier ones: what an earlier statement was found with stays on the case (the
    applicant answers for it, R15), so an amendment never makes the outcome better nor clears a
    red-list hit. A red-list hit found now withholds the automatic green pass (R12) like a first
    one; a new hit is put in front of the audit holder like a first comparison's hits."""
    record = session.exec(select(ComparisonRecord).where(ComparisonRecord.application_id == application.id)).first()
    if record is None:
        return None
    # An incomplete comparison does not block the amendment: it is recorded as incomplete.
    result = _compare(session=session, declaration=declaration, at=at, settings=settings)
    data = result.to_dict()
    known = {_hit_key(h) for h in record.hits}
    new = [{**h, "from_amendment": True, "declaration_version": declaration.version} for h in data["hits"] if _hit_key(h) not in known]
    hits = list(record.hits) + new
    worst = max((h["outcome"] for h in hits), key=lambda o: SEVERITY.get(o, 0), default="clear")
    red_list = record.red_list or result.red_list or any(h["outcome"] in AUTO_ISSUE_WITHHELD_OUTCOMES for h in hits)
    outcome = worst if (result.complete or worst in RED_LIST_OUTCOMES) else "incomplete"  # as the engine decides: never a silent clear
    newly_red = red_list and not record.red_list
    record.outcome, record.red_list, record.hits, record.sources = outcome, red_list, hits, data["sources"]
    record.rule_version, record.compared_at = ruleset_for(at.astimezone(SHANGHAI).date()).version, at
    session.add(record)
    if application.comparison_outcome is not None:  # the flow's comparison step copied the first one: follow it
        application.comparison_outcome, application.rule_version = outcome, record.rule_version
    application.red_list = application.red_list or red_list
    session.add(application)
    record_event(
        session, application_id=application.id, actor="system", action="amendment_compared", at=at,
        data={"declaration_version": declaration.version, "outcome": outcome, "red_list": red_list, "new_hits": len(new), "hits": [{"source": h["source"], "outcome": h["outcome"]} for h in new]},
    )
    if newly_red:
        withheld = sla_service.cancel_timers(session, application_id=application.id, at=at, kinds=("auto_issue",))
        record_event(session, application_id=application.id, actor="system", action="auto_issue_withheld", at=at, reason="red-list comparison hit or declared fever/symptom on the amended declaration: escalates instead (R12)", data={"timers_cancelled": withheld})
    task = session.exec(select(AuditTask).where(AuditTask.application_id == application.id)).first()
    if new and task is not None:
        listed = "; ".join(f"{h['source']} ({h['outcome']})" for h in new)
        session.add(Notification(application_id=application.id, recipient_level="issuer", recipient_code=task.holder_code, kind="amendment_hits", message=f"{application.reference}: the amended declaration (version {declaration.version}) hit {listed}.", created_at=at))
    return record
