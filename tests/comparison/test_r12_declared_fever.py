"""R12 (with R6, R14): a declared fever (>= 37.3 °C) or any declared symptom is a flag of the
comparison, shown to the issuer like a hit, and the case is never issued green automatically:
on breach it escalates, as a red-list hit does."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlmodel import select

from cases.comparison.base import InMemorySource
from cases.comparison.engine import DeclarationFacts, compare
from cases.models import Application, ComparisonRecord, Pass
from tests.conftest import login
from tests.sla_store.sla_support import actions, local, notifications, open_case, sweep, timers
from tests.ui.test_pages import sign_in, text_of

NOW = datetime(2026, 3, 3, 1, 0, tzinfo=timezone.utc)


def _facts(**health) -> DeclarationFacts:
    return DeclarationFacts(id_hash="i", phone_hash="p", home="370202", **health)


def test_r12_engine_flags_a_declared_fever_and_symptoms_with_the_declared_values():
    source = InMemorySource("registry", [], fresh_as_of=NOW)
    result = compare(declaration=_facts(temperature=38.5, symptoms=("fever", "cough")), sources=[source], now=NOW)
    assert result.outcome == "declared_ill" and result.red_list  # withholds the automatic green (R12)
    flags = {h.kind: h.to_dict() for h in result.hits}
    assert set(flags) == {"declared_fever", "declared_symptoms"}
    assert flags["declared_fever"]["evidence"] == {"temperature": 38.5, "threshold": 37.3}
    assert "38.5 °C" in flags["declared_fever"]["explanation"]
    assert flags["declared_symptoms"]["evidence"] == {"symptoms": ["fever", "cough"]}

    # 37.2 °C and no symptom: nothing to flag; the threshold itself is a fever (R4's 37.3 °C).
    assert compare(declaration=_facts(temperature=37.2), sources=[source], now=NOW).outcome == "clear"
    at_threshold = compare(declaration=_facts(temperature=37.3), sources=[source], now=NOW)
    assert at_threshold.outcome == "declared_ill" and [h.kind for h in at_threshold.hits] == ["declared_fever"]
    # A configured threshold is honoured.
    assert compare(declaration=_facts(temperature=37.5), sources=[source], now=NOW, fever_threshold=37.6).outcome == "clear"


def test_r12_declared_fever_is_not_clear_in_the_issuer_queue_and_the_breach_escalates(api, seeded, clock):
    clock.set(local("2026-03-03 09:00"))
    case_id, task_id = open_case(seeded, clock, health={"symptoms": ["fever"], "temperature": 38.5})
    with seeded.session() as s:
        app = s.get(Application, case_id)
        record = s.exec(select(ComparisonRecord).where(ComparisonRecord.application_id == case_id)).one()
        assert app.comparison_outcome == "declared_ill" and app.red_list
        assert {h["kind"] for h in record.hits} == {"declared_fever", "declared_symptoms"}
        reference = app.reference

    # The queue read model (API) and the queue page both show the flag, never "Clear".
    [task] = [t for t in api.get("/api/v1/audit-tasks", headers=login(api, "qingdao-issuer")).json() if t["application_id"] == case_id]
    assert task["comparison"]["outcome"] == "declared_ill" and task["comparison"]["red_list"]
    assert sign_in(api, "qingdao-issuer").status_code == 303
    queue = text_of(api.get("/issuer").text)
    entry = queue[queue.index(reference):]
    entry = entry[: entry.index("Open")]
    assert "Clear" not in entry and "Declared fever or symptoms" in entry and "2 hits" in entry
    task = text_of(api.get(f"/issuer/tasks/{task_id}").text)
    assert "declared body temperature 38.5 °C" in task and "declared symptoms: fever" in task and "never issued automatically (R12)" in task

    # R12: the breach escalates instead of scheduling the automatic green pass.
    clock.set(local("2026-03-03 16:30"))
    assert sweep(seeded, clock)["breach"] == 1
    clock.set(local("2026-03-04 18:00"))
    sweep(seeded, clock)
    with seeded.session() as s:
        assert "auto_issue" not in timers(s, case_id)
        assert "auto_issue_withheld" in actions(s, case_id)
        assert s.get(Application, case_id).decision is None
        assert s.exec(select(Pass).where(Pass.application_id == case_id, Pass.colour == "green")).first() is None
        # escalated up the ladder to the supervisors instead (county at the breach, city a working day on)
        assert [n.recipient_level for n in notifications(s, case_id)][-2:] == ["county", "city"]


def test_r12_normal_declaration_still_clear_and_auto_issued(seeded, clock):
    clock.set(local("2026-03-03 09:00"))
    case_id, _ = open_case(seeded, clock)
    with seeded.session() as s:
        app = s.get(Application, case_id)
        assert app.comparison_outcome == "clear" and not app.red_list
    clock.set(local("2026-03-03 16:30"))
    assert sweep(seeded, clock)["breach"] == 1
    with seeded.session() as s:
        assert "auto_issue" in timers(s, case_id)

