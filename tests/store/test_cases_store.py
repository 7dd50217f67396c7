"""The case store on SQLite and PostgreSQL: submission, duplicates, the event chain, claims."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import event as sa_event
from sqlmodel import delete, select

from cases.declaration_schema import ApplicationCreate
from cases.events import chain_heads, record_event, timeline, verify_chain
from cases.models import Application, AuditTask, CaseEvent, Declaration, FlowDispatch, Pass, User
from cases.services import audit, workflow
from cases.services.applications import submit_application
from tests.helpers import example, tamper_event, to_audit


def submit(store, clock, kind="standard", key=None, **changes):
    body = {**example(kind, clock.now().date()), **changes}
    payload = ApplicationCreate.model_validate(body)
    with store.session() as session:
        result = submit_application(session=session, payload=payload, content=body, settings=store.settings, at=clock.now(), idempotency_key=key)
        session.commit()
        return result


def test_r14_submission_commits_case_statement_event_and_outbox(seeded, clock):
    result = submit(seeded, clock)
    assert result.created and result.access_token
    with seeded.session() as s:
        app = s.get(Application, result.application.id)
        assert app.status == "submitted" and app.community_code == "370202001001"
        declaration = s.exec(select(Declaration).where(Declaration.application_id == app.id)).one()
        assert declaration.content["id_number"] == example("standard", clock.now().date())["id_number"]
        assert len(declaration.content_hash) == 64 and declaration.signature
        events = s.exec(select(CaseEvent).where(CaseEvent.application_id == app.id)).all()
        assert [e.action for e in events] == ["submitted"]
        outbox = s.exec(select(FlowDispatch).where(FlowDispatch.application_id == app.id)).one()
        assert outbox.action == "start" and outbox.pending


def test_r7_arrival_gets_yellow_pass_at_once(seeded, clock):
    result = submit(seeded, clock, kind="arrival")
    with seeded.session() as s:
        passes = s.exec(select(Pass).where(Pass.application_id == result.application.id)).all()
        assert [p.colour for p in passes] == ["yellow"]
        assert passes[0].valid_until - passes[0].issued_at == timedelta(days=14)


def test_same_idempotency_key_returns_the_existing_case(seeded, clock):
    first = submit(seeded, clock, key="k-1")
    again = submit(seeded, clock, key="k-1")
    assert not again.created and again.application.id == first.application.id
    assert again.access_token == first.access_token
    with seeded.session() as s:
        assert len(s.exec(select(Application)).all()) == 1


def test_same_person_with_open_case_gets_it_back_only_with_its_token(seeded, clock):
    from cases.services.applications import DuplicateOpenCase

    first = submit(seeded, clock)
    with pytest.raises(DuplicateOpenCase):  # another client learns nothing about the case (issue 14)
        submit(seeded, clock, channel="wechat")
    body = {**example("standard", clock.now().date()), "channel": "wechat"}
    with seeded.session() as session:
        again = submit_application(session=session, payload=ApplicationCreate.model_validate(body), content=body, settings=seeded.settings, at=clock.now(), access_token=first.access_token)
    assert not again.created and again.application.id == first.application.id


def test_r15_event_chain_detects_an_edited_event(seeded, clock):
    result = submit(seeded, clock)
    with seeded.session() as s:
        record_event(s, application_id=result.application.id, actor="system", action="note", at=clock.now())
        s.commit()
        assert verify_chain(s) == []
        event = s.exec(select(CaseEvent).where(CaseEvent.seq == 1)).one()
        # The application cannot edit or delete an event: the database refuses.
        event.actor = "someone-else"
        s.add(event)
        with pytest.raises(Exception, match="append-only"):
            s.commit()
        s.rollback()
        with pytest.raises(Exception, match="append-only"):
            s.exec(delete(CaseEvent))
            s.commit()
        s.rollback()
        # Someone bypassing the database's guard is caught by the chain.
        tamper_event(s, event.id, actor="someone-else")
        problems = verify_chain(s)
    assert problems and "altered" in problems[0]


def test_r15_events_appended_on_preloaded_chain_heads_chain_as_one_by_one(seeded, clock):
    """A batch writer (the sweep) preloads the chain heads: several events for one case in
    one transaction chain to each other without a read or a flush per event, a case not
    preloaded is read once, and the chains verify as if appended one by one."""
    from cases.simulate import application_body

    a = submit(seeded, clock)  # has its "submitted" event
    body = application_body(7, today=clock.now().date())
    with seeded.session() as s:
        b = submit_application(session=s, payload=ApplicationCreate.model_validate(body), content=body, settings=seeded.settings, at=clock.now())
        record_event(s, application_id=b.application.id, actor="system", action="one_by_one", at=clock.now())
        s.commit()
    reads: list[str] = []

    def listen(conn, cursor, statement, *rest) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "caseevent" in statement:
            reads.append(statement)

    with seeded.session() as s:
        sa_event.listen(seeded.engine, "before_cursor_execute", listen)
        try:
            with chain_heads(s, [a.application.id]):
                for n in range(3):
                    record_event(s, application_id=a.application.id, actor="system", action=f"batched_{n}", at=clock.now(), data={"n": n})
                for n in range(2):
                    record_event(s, application_id=b.application.id, actor="system", action=f"batched_{n}", at=clock.now())
                s.commit()
        finally:
            sa_event.remove(seeded.engine, "before_cursor_execute", listen)
        assert len(reads) == 2  # the preload, and case b's head once
        assert [(e.seq, e.action) for e in timeline(s, a.application.id)] == [(1, "submitted"), (2, "batched_0"), (3, "batched_1"), (4, "batched_2")]
        assert [e.action for e in timeline(s, b.application.id)] == ["submitted", "one_by_one", "batched_0", "batched_1"]
        assert verify_chain(s) == []
        assert "healthpass.case_event_heads" not in s.info  # dropped with the block: later writers read again


def test_r14_steps_are_idempotent(seeded, clock):
    """Running a step twice (flow replay after resume) changes nothing the second time."""
    result = submit(seeded, clock)
    with seeded.session() as s:
        app = s.get(Application, result.application.id)
        for _ in range(2):
            workflow.declare(session=s, application=app, at=clock.now())
            workflow.compare(session=s, application=app, at=clock.now(), settings=seeded.settings, accept_incomplete=True)
            workflow.assign_audit(session=s, application=app, at=clock.now(), settings=seeded.settings)
            s.commit()
        events = [e.action for e in s.exec(select(CaseEvent).where(CaseEvent.application_id == app.id).order_by(CaseEvent.seq))]
        assert events.count("declared") == 1 and events.count("compared") == 1 and events.count("audit_assigned") == 1
        assert len(s.exec(select(AuditTask)).all()) == 1
        assert app.status == "awaiting_audit"
        # R11: 2026-03-03 09:00 Tuesday + 6 working hours = 16:30 the same day.
        assert app.sla_due_at.astimezone(clock.now().tzinfo).strftime("%Y-%m-%d %H:%M") == "2026-03-03 16:30"


def _assigned_task(store, clock) -> str:
    return to_audit(store, clock, submit(store, clock).application.id)


def test_r18_two_issuers_claim_one_wins(seeded, clock):
    """Claims are safe under concurrency: many attempts at once, exactly one winner."""
    task_id = _assigned_task(seeded, clock)
    with seeded.session() as s:
        issuers = s.exec(select(User).where(User.username.in_(["heping-issuer", "heping-issuer2"]))).all()
        # Both demo issuers belong to Heping (370102001001); the example applicant lives in 370202001001.
        for u in issuers:
            u.region_code = "370202001001"
            s.add(u)
        s.commit()
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def attempt(user_id: str) -> None:
        with seeded.session() as s:
            user = s.get(User, user_id)
            barrier.wait()
            try:
                audit.claim(session=s, task_id=task_id, user=user, at=clock.now())
                s.commit()
                outcomes.append(user_id)
            except Exception as exc:  # Conflict for the losers
                outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=attempt, args=(issuers[i % 2].id,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with seeded.session() as s:
        task = s.get(AuditTask, task_id)
        winners = [o for o in outcomes if o != "Conflict"]
        assert task.claimed_by in {u.id for u in issuers}
        # The winner may "claim" again idempotently; every other attempt lost.
        assert set(winners) == {task.claimed_by}
        assert outcomes.count("Conflict") == 8 - len(winners)


def test_r15_amended_declaration_is_a_new_version_never_an_overwrite(api, seeded, clock):
    body = example("standard", clock.now().date())
    case = api.post("/api/v1/applications", json=body).json()
    amended = {**body, "address": "山东省青岛市市南区和平社区9号（演示）"}
    r = api.put(f"/api/v1/applications/{case['id']}/declaration", json=amended, headers={"X-Access-Token": case["access_token"]})
    assert r.status_code == 200 and r.json()["declaration_version"] == 2
    other_person = {**body, "id_number": "370102199003070024"}
    assert api.put(f"/api/v1/applications/{case['id']}/declaration", json=other_person, headers={"X-Access-Token": case["access_token"]}).status_code == 422
    with seeded.session() as s:
        versions = s.exec(select(Declaration).where(Declaration.application_id == case["id"]).order_by(Declaration.version)).all()
        assert [v.version for v in versions] == [1, 2]
        assert versions[0].content["address"] == body["address"] and versions[1].content["address"] == amended["address"]
        assert versions[0].content_hash != versions[1].content_hash


@pytest.mark.parametrize("store", ["postgres"], indirect=True)
def test_r15_a_writer_waits_for_a_batch_holding_the_case_and_chains_after_it(seeded, clock):
    """A writer appending to a case while a batch (the sweep) holds its chain head in memory
    waits for the batch's commit and chains after it: no two events with one seq, no 500."""
    import threading
    import time

    a = submit(seeded, clock)
    case_id = a.application.id
    done: dict = {}

    def issuer() -> None:
        try:
            with seeded.session() as s:
                record_event(s, application_id=case_id, actor="issuer", action="claimed", at=clock.now())
                s.commit()
                done["ok"] = time.monotonic()
        except Exception as exc:  # pragma: no cover - what the test guards against
            done["error"] = exc

    with seeded.session() as s:
        with chain_heads(s, [case_id]):
            record_event(s, application_id=case_id, actor="system", action="sla_reminder_50", at=clock.now())
            writer = threading.Thread(target=issuer)
            writer.start()
            time.sleep(0.5)  # the writer is now waiting for the case
            assert "ok" not in done and "error" not in done
            committed = time.monotonic()
            s.commit()
    writer.join(10)
    assert "error" not in done, done.get("error")
    assert done["ok"] >= committed
    with seeded.session() as s:
        assert [(e.seq, e.action) for e in timeline(s, case_id)] == [(1, "submitted"), (2, "sla_reminder_50"), (3, "claimed")]
        assert verify_chain(s, case_id) == []


@pytest.mark.parametrize("store", ["postgres"], indirect=True)
def test_r15_a_case_is_locked_once_per_transaction_and_again_in_the_next(seeded, clock):
    """The append lock is taken once per case and transaction (not per event), and a new
    transaction takes it again — a lock ends with its transaction."""
    case_id = submit(seeded, clock).application.id
    locks: list[str] = []

    def listen(conn, cursor, statement, *rest) -> None:
        if "FOR NO KEY UPDATE" in statement:
            locks.append(statement)

    sa_event.listen(seeded.engine, "before_cursor_execute", listen)
    try:
        with seeded.session() as s:
            for n in range(3):
                record_event(s, application_id=case_id, actor="issuer", action=f"first_{n}", at=clock.now())
            s.commit()
            assert len(locks) == 1
            record_event(s, application_id=case_id, actor="issuer", action="second", at=clock.now())
            s.commit()
            assert len(locks) == 2
    finally:
        sa_event.remove(seeded.engine, "before_cursor_execute", listen)
    with seeded.session() as s:
        assert verify_chain(s, case_id) == []


def test_r14_one_worker_at_a_time_takes_a_runs_lease(store, clock):
    """Workers on several machines reap dead workers' runs on their own ticks: of 8 asking at the
    same moment for the same run, exactly one may act on it; the holder may again, the others
    once the lease has run out."""
    from cases.services import dispatch

    barrier = threading.Barrier(8)
    won: list[str] = []

    def ask(name: str) -> None:
        with store.session() as s:
            barrier.wait()
            if dispatch.take_run_lease(s, flow_run_id="run-1", holder=name, now=clock.now(), seconds=30):
                won.append(name)

    threads = [threading.Thread(target=ask, args=(f"worker-{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1, won
    other = "worker-0" if won[0] != "worker-0" else "worker-1"
    with store.session() as s:
        assert dispatch.take_run_lease(s, flow_run_id="run-1", holder=won[0], now=clock.now(), seconds=30)
        assert not dispatch.take_run_lease(s, flow_run_id="run-1", holder=other, now=clock.now() + timedelta(seconds=29), seconds=30)
        assert dispatch.take_run_lease(s, flow_run_id="run-2", holder=other, now=clock.now(), seconds=30)  # another run: free
        assert dispatch.take_run_lease(s, flow_run_id="run-1", holder=other, now=clock.now() + timedelta(seconds=31), seconds=30)
