"""Step 2 of R14: compare the declaration with the registries; publish the rule that decided."""
from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from cases.comparison.base import SourceUnavailable
from cases.comparison.engine import DeclarationFacts, compare
from cases.comparison.rules import ruleset_for
from cases.clock import SHANGHAI
from cases.declaration_schema import ApplicationCreate
from cases.models import Application, ComparisonRecord
from cases.services import registries
from cases.services.applications import latest_declaration
from cases.settings import Settings


def run_comparison(*, session: Session, application: Application, at: datetime, settings: Settings, accept_incomplete: bool) -> ComparisonRecord:
    declaration = latest_declaration(session, application.id)
    payload = ApplicationCreate.model_validate(declaration.content, context={"today": declaration.declared_at.astimezone(SHANGHAI).date()})
    facts = DeclarationFacts.from_application(payload, hash_key=settings.secret("idhash"))
    result = compare(declaration=facts, sources=registries.sources(session), now=at)
    if result.outcome == "incomplete" and not accept_incomplete:
        troubled = [f"{s['name']}: {s['status']}" for s in result.to_dict()["sources"] if s["status"] != "ok"]
        raise SourceUnavailable("comparison incomplete (" + ", ".join(troubled) + "); retrying")
    ruleset = ruleset_for(at.astimezone(SHANGHAI).date())
    data = result.to_dict()
    record = ComparisonRecord(application_id=application.id, outcome=result.outcome, red_list=result.red_list, hits=data["hits"], sources=data["sources"], rule_version=ruleset.version, compared_at=at)
    session.add(record)
    session.flush()
    return record
