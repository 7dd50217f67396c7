"""The case timeline: append-only events, hash-chained per case so an edit is detectable."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from sqlalchemy.dialects.postgresql import distinct_on
from sqlmodel import Session, func, select

from cases.models import Application, CaseEvent

GENESIS = "0" * 64
# Session.info key of the chain heads {application_id: (seq, hash)} that `chain_heads` preloads.
_HEADS = "healthpass.case_event_heads"
# Session.info key of (transaction, {application_id}) whose rows this transaction has locked.
_LOCKED = "healthpass.case_locks"


def _digest(prev_hash: str, body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def _body(event: CaseEvent) -> dict[str, Any]:
    return {
        "application_id": event.application_id,
        "seq": event.seq,
        "at": event.at.astimezone(timezone.utc).isoformat(),  # as the store gives it back
        "actor": event.actor,
        "action": event.action,
        "reason": event.reason,
        "before": event.before,
        "after": event.after,
        "data": event.data,
    }


def record_event(
    session: Session,
    *,
    application_id: str,
    actor: str,
    action: str,
    at: datetime,
    reason: str | None = None,
    before: str | None = None,
    after: str | None = None,
    data: dict[str, Any] | None = None,
    first: bool = False,
) -> CaseEvent:
    """Append an event in the caller's transaction (state change and event commit together).
    `first=True` for a case created in this transaction: there is nothing to chain to yet.
    Inside `chain_heads` the case's head comes from memory and the event is not flushed."""
    heads: dict[str, tuple[int, str]] | None = session.info.get(_HEADS)
    if first:
        head = (0, GENESIS)
    elif heads is not None and application_id in heads:
        head = heads[application_id]
    else:
        _lock_cases(session, [application_id])
        last = session.exec(
            select(CaseEvent).where(CaseEvent.application_id == application_id).order_by(CaseEvent.seq.desc()).limit(1)
        ).first()
        head = (last.seq, last.hash) if last else (0, GENESIS)
    seq = head[0] + 1
    event = CaseEvent(
        application_id=application_id,
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        reason=reason,
        before=before,
        after=after,
        data=data or {},
        prev_hash=head[1],
        hash="",
    )
    event.hash = _digest(event.prev_hash, _body(event))
    session.add(event)
    if heads is not None:
        heads[application_id] = (seq, event.hash)  # the next event chains to this one without a read
    elif not first:
        session.flush()  # the next event of this transaction must see this one
    return event


def _lock_cases(session: Session, application_ids: list[str]) -> None:
    """On PostgreSQL, appends to a case's chain take the case's row lock first, so a writer
    that read the head cannot collide on (application_id, seq) with another — the sweep holds
    its batch's cases for a whole batch. NO KEY UPDATE: inserts referencing the case (their
    foreign-key checks) are not blocked. SQLite writes one transaction at a time anyway."""
    if not application_ids or session.get_bind().dialect.name != "postgresql":
        return
    session.connection()  # begins the transaction if none has begun, so it can be told apart
    transaction = session.get_transaction()
    held = session.info.get(_LOCKED)
    if held is None or held[0] is not transaction:  # a lock lasts until its transaction ends
        held = session.info[_LOCKED] = (transaction, set())
    wanted = [i for i in application_ids if i not in held[1]]
    if wanted:  # once per case and transaction, not once per event
        session.exec(select(Application.id).where(Application.id.in_(wanted)).with_for_update(key_share=True)).all()  # FOR NO KEY UPDATE
        held[1].update(wanted)


@contextmanager
def chain_heads(session: Session, application_ids: Iterable[str]) -> Iterator[None]:
    """Within the block, `record_event` chains these cases' events to heads read here in one
    query and kept in memory, and leaves the INSERTs to the next flush (one multi-row INSERT
    for a batch instead of a SELECT and an INSERT per event). Other cases are read as usual
    and then kept too. Only `record_event` may append events inside the block; the heads are
    dropped when it ends, so commit or roll back inside it."""
    if _HEADS in session.info:  # nested: the outer block's heads are already current
        yield
        return
    ids = sorted(set(application_ids))
    heads: dict[str, tuple[int, str]] = dict.fromkeys(ids, (0, GENESIS))
    _lock_cases(session, ids)
    if ids:
        if session.get_bind().dialect.name == "postgresql":
            query = (
                select(CaseEvent.application_id, CaseEvent.seq, CaseEvent.hash)
                .ext(distinct_on(CaseEvent.application_id))
                .where(CaseEvent.application_id.in_(ids))
                .order_by(CaseEvent.application_id, CaseEvent.seq.desc())
            )
        else:
            top = (
                select(CaseEvent.application_id, func.max(CaseEvent.seq).label("seq"))
                .where(CaseEvent.application_id.in_(ids))
                .group_by(CaseEvent.application_id)
                .subquery()
            )
            query = select(CaseEvent.application_id, CaseEvent.seq, CaseEvent.hash).join(
                top, (CaseEvent.application_id == top.c.application_id) & (CaseEvent.seq == top.c.seq)
            )
        heads.update((app_id, (seq, digest)) for app_id, seq, digest in session.exec(query))
    session.info[_HEADS] = heads
    try:
        yield
    finally:
        session.info.pop(_HEADS, None)


def verify_chain(session: Session, application_id: str | None = None) -> list[str]:
    """Return the problems found (empty = intact)."""
    problems: list[str] = []
    query = select(CaseEvent).order_by(CaseEvent.application_id, CaseEvent.seq)
    if application_id:
        query = query.where(CaseEvent.application_id == application_id)
    prev: dict[str, str] = {}
    for event in session.exec(query):
        expected_prev = prev.get(event.application_id, GENESIS)
        if event.prev_hash != expected_prev:
            problems.append(f"{event.application_id}#{event.seq}: chain broken (prev hash differs)")
        if _digest(event.prev_hash, _body(event)) != event.hash:
            problems.append(f"{event.application_id}#{event.seq}: content altered (hash mismatch)")
        prev[event.application_id] = event.hash
    return problems


def timeline(session: Session, application_id: str) -> list[CaseEvent]:
    return list(session.exec(select(CaseEvent).where(CaseEvent.application_id == application_id).order_by(CaseEvent.seq)))


def count(session: Session, application_id: str) -> int:
    return session.exec(select(func.count()).select_from(CaseEvent).where(CaseEvent.application_id == application_id)).one()
