"""Benchmark 4: the SLA sweep on PostgreSQL with many open cases.

Open cases are inserted in bulk with SQL (generate_series), each with the five ladder
timers a real case has (reminder_50, warn_80, breach, city_1wd, province_2wd) and an
open audit task. ``due`` of those cases get one timer due before the sweep's ``now``
(half reminders, 30 % warnings, 20 % breaches, which also write the responsibility
record and schedule the auto-issue). Each run calls the real
``cases.services.sla_service.sweep``; between runs the fired timers are re-armed and
what they wrote is deleted, then VACUUM ANALYZE (what autovacuum does in production).
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any

from bench.common import median, pg_database, seed_store, temp_dir

LEVELS = {"reminder_50": "issuer", "warn_80": "community_head", "breach": "county", "city_1wd": "city", "province_2wd": "province"}


def _app_id(g: int) -> str:
    return f"bapp{g:012d}"


def insert_cases(engine, lo: int, hi: int, *, at: datetime) -> float:
    """Insert open cases lo..hi (inclusive) with applicants, audit tasks and 5 timers each."""
    from sqlalchemy import text

    t0 = time.perf_counter()
    with engine.begin() as c:
        c.execute(text("""
            INSERT INTO applicant (id, id_type, id_hash, id_masked, name, phone_masked, phone_hash, created_at)
            SELECT 'bapl' || lpad(g::text, 12, '0'), 'resident_id', md5('id' || g), '370102********0000', 'Bench',
                   '139****0000', md5('ph' || g), :at
            FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) g"""), {"lo": lo, "hi": hi, "at": at})
        # Submitted over the last 30 days; due 4 h to ~30 days after the sweep's now (no ladder step due by itself).
        c.execute(text("""
            WITH c AS (
                SELECT row_number() OVER (ORDER BY r.code) - 1 AS i, r.code, r.parent_code AS county, p.parent_code AS city
                FROM region r JOIN region p ON p.code = r.parent_code WHERE r.level = 'community'),
            n AS (SELECT count(*) AS n FROM c)
            INSERT INTO application (kind, channel, community_code, county_code, city_code, id, reference, applicant_id,
                status, submitted_at, needs_verification, access_token_hash, comparison_outcome, red_list,
                sla_started_at, sla_due_at, sla_paused_seconds, updated_at)
            SELECT 'standard', 'app', c.code, c.county, c.city, 'bapp' || lpad(g::text, 12, '0'), 'HPB' || g,
                   'bapl' || lpad(g::text, 12, '0'), 'awaiting_audit', :at - interval '1 minute' * (g % 43200), false,
                   md5('tok' || g), 'clear', false,
                   :at - interval '1 minute' * (g % 43200),
                   :at + interval '4 hours' + interval '1 minute' * (g % 43200), 0, :at
            FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) g JOIN c ON c.i = g % (SELECT n FROM n)"""), {"lo": lo, "hi": hi, "at": at})
        c.execute(text("""
            INSERT INTO audittask (id, application_id, holder_kind, holder_code, status, missing_items, created_at)
            SELECT 'btsk' || lpad(g::text, 12, '0'), 'bapp' || lpad(g::text, 12, '0'), 'community', a.community_code, 'open', '[]', :at
            FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) g JOIN application a ON a.id = 'bapp' || lpad(g::text, 12, '0')"""), {"lo": lo, "hi": hi, "at": at})
        c.execute(text("""
            INSERT INTO slatimer (application_id, kind, level, due_at, pending)
            SELECT 'bapp' || lpad(g::text, 12, '0'), k.kind, k.level,
                   :at + interval '4 hours' + interval '1 minute' * (g % 43200) + k.offs, true
            FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) g
            CROSS JOIN (VALUES ('reminder_50', 'issuer', interval '-3 hours'), ('warn_80', 'community_head', interval '-1 hour'),
                               ('breach', 'county', interval '0'), ('city_1wd', 'city', interval '1 day'),
                               ('province_2wd', 'province', interval '2 days')) AS k(kind, level, offs)"""), {"lo": lo, "hi": hi, "at": at})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("VACUUM ANALYZE applicant, application, audittask, slatimer"))
    return time.perf_counter() - t0


def make_due(engine, count: int, *, at: datetime) -> list[int]:
    """Give the first ``count`` cases one due timer each (a mix of ladder steps); returns timer ids."""
    from sqlalchemy import text

    with engine.begin() as c:
        ids = c.execute(text("""
            UPDATE slatimer t SET due_at = :at - interval '1 minute' * (1 + g.g % 120)
            FROM (SELECT g, 'bapp' || lpad(g::text, 12, '0') AS app,
                         CASE WHEN g % 10 < 5 THEN 'reminder_50' WHEN g % 10 < 8 THEN 'warn_80' ELSE 'breach' END AS kind
                  FROM generate_series(1, CAST(:n AS bigint)) g) g
            WHERE t.application_id = g.app AND t.kind = g.kind
            RETURNING t.id"""), {"n": count, "at": at}).scalars().all()
    return list(ids)


def rearm(engine, due_ids: list[int]) -> None:
    """Undo a sweep: re-arm the due timers and delete what firing them wrote."""
    from sqlalchemy import text

    with engine.begin() as c:
        # caseevent is append-only (a trigger refuses DELETE); in this throwaway database the
        # bench undoes its own sweep as an administrator would: triggers off for this transaction.
        c.execute(text("SET LOCAL session_replication_role = replica"))
        c.execute(text("DELETE FROM notification"))
        c.execute(text("DELETE FROM caseevent WHERE application_id LIKE 'bapp%'"))
        c.execute(text("DELETE FROM responsibilityrecord"))
        c.execute(text("DELETE FROM provincialaudititem"))
        c.execute(text("DELETE FROM slatimer WHERE kind = 'auto_issue'"))
        c.execute(text("UPDATE application SET breached_at = NULL WHERE breached_at IS NOT NULL"))
        if due_ids:
            c.execute(text("UPDATE slatimer SET pending = true, fired_at = NULL WHERE id = ANY(:ids)"), {"ids": due_ids})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("VACUUM ANALYZE slatimer, application, notification, caseevent"))


def timed_sweep(engine, settings, at: datetime) -> tuple[float, dict]:
    from sqlmodel import Session

    from cases.services.sla_service import sweep

    with Session(engine, expire_on_commit=False) as session:
        t0 = time.perf_counter()
        # As the sweep task runs it (tasks/sweep.py): collecting what fired, for the Prefect events.
        fired = sweep(session=session, now=at, settings=settings, fired_out=[])
        session.commit()
        return time.perf_counter() - t0, fired


def explain(engine, settings, at: datetime) -> str:
    """Capture the SELECT the sweep really issues, then EXPLAIN (ANALYZE, BUFFERS) it with
    1k timers due and with none due (rolled back: nothing fires)."""
    from sqlalchemy import event
    from sqlmodel import Session

    from cases.services.sla_service import sweep

    captured: list[tuple[str, Any]] = []

    def grab(conn, cursor, statement, parameters, context, executemany):
        if "FROM slatimer" in statement and "FOR UPDATE" in statement and not captured:
            captured.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", grab)
    try:
        with Session(engine) as session:
            sweep(session=session, now=at - timedelta(days=1), settings=settings)  # none due: fires nothing
            session.rollback()
    finally:
        event.remove(engine, "before_cursor_execute", grab)
    statement, params = captured[0]
    out = [f"-- the statement sla_service.sweep issues (captured from SQLAlchemy)\n{statement}"]
    for label, when in (("1k due", at), ("none due", at - timedelta(days=1))):
        bound = {k: (when if isinstance(v, datetime) else v) for k, v in params.items()} if isinstance(params, dict) else params
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, bound)
            out.append(f"-- {label}: now = {when.isoformat()}\n" + "\n".join(r[0] for r in cur.fetchall()))
            raw.rollback()
        finally:
            raw.close()
    return "\n\n".join(out)


def diagnose(engine, settings, at: datetime) -> dict:
    """One more 1k-due sweep under cProfile, counting the SQL statements it sends."""
    import cProfile
    import pstats

    from sqlalchemy import event

    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        words = statement.split()
        verb = words[0].upper()
        if verb == "SELECT":
            table = statement.split("FROM ", 1)[-1].split(None, 1)[0]
        elif verb == "INSERT":
            table = words[2]
        elif verb in ("UPDATE", "DELETE"):
            table = words[1] if verb == "UPDATE" else words[2]
        else:
            table = ""
        statements.append(f"{verb} {table}")

    event.listen(engine, "before_cursor_execute", count)
    prof = cProfile.Profile()
    try:
        prof.enable()
        t, fired = timed_sweep(engine, settings, at)
        prof.disable()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    stats = pstats.Stats(prof)
    wanted = {
        "sla_service.py:sweep": "sweep (whole run)",
        "sla_service.py:_fire": "_fire (per timer: notify, event)",
        "bulk_persistence.py:_get_matched_objects_on_criteria": "ORM UPDATE synchronize_session='auto' scanning the identity map",
        "events.py:record_event": "record_event (chain head from the batch's preload, no flush)",
        "sla_service.py:_breach": "_breach (responsibility record, auto-issue timer)",
        "session.py:_flush": "Session._flush",
        "cursor.py:execute": "psycopg cursor.execute (round trips)",
    }
    rows = []
    for (file, _line, func), (_cc, nc, _tt, ct, _callers) in stats.stats.items():
        key = f"{file.rsplit('/', 1)[-1]}:{func}"
        if key in wanted:
            rows.append((wanted[key], nc, round(ct, 2)))
    from collections import Counter

    fired_total = sum(fired.values()) or 1
    by_kind = Counter(statements)
    return {
        "seconds_profiled": round(t, 2),
        "fired": fired_total,
        "statements": len(statements),
        "statements_per_timer": round(len(statements) / fired_total, 2),
        "top_statements": by_kind.most_common(10),
        "functions": sorted(rows, key=lambda r: -r[2]),
    }


def run(*, sizes=(10_000, 100_000), big: int | None = 1_000_000, due: int = 1_000, repeats: int = 3, budget_s: float = 240.0, log=print) -> dict:
    """Sweep timings at each size; ``big`` (1M) only if the inserts so far predict it fits ``budget_s``."""
    from cases.db import get_engine
    from cases.settings import get_settings

    started = time.monotonic()
    at = datetime.now(timezone.utc).replace(microsecond=0)
    out: dict[str, Any] = {"sizes": {}, "due": due, "repeats": repeats, "notes": []}
    with pg_database("hp_bench_sweep") as url, temp_dir("hp-bench-sweep-") as tmp:
        seed_store(url, tmp / "var", green_pass=False)
        engine, settings = get_engine(), get_settings()
        done, due_ids, per_case = 0, [], None
        plan_sizes = list(sizes) + ([big] if big else [])
        for size in plan_sizes:
            if size == big and big:
                predicted = (per_case or 0) * (size - done) + 60
                left = budget_s - (time.monotonic() - started)
                if predicted > left:
                    out["notes"].append(f"1M skipped: inserting {size - done:,} more cases was predicted to take {predicted:.0f} s, {left:.0f} s of the sweep budget left")
                    log(f"  sweep: {out['notes'][-1]}")
                    continue
            log(f"  sweep: inserting cases {done + 1:,}..{size:,}")
            took = insert_cases(engine, done + 1, size, at=at)
            per_case = took / (size - done)
            done = size
            if not due_ids:
                due_ids = make_due(engine, due, at=at)
            rearm(engine, due_ids)
            due_runs, none_runs, fired = [], [], {}
            for _ in range(repeats if size >= 100_000 else 0):  # the 1k-due target is at 100k open
                t, fired = timed_sweep(engine, settings, at)
                due_runs.append(t)
                rearm(engine, due_ids)
            if size == 100_000:
                out["diagnosis"] = diagnose(engine, settings, at)
                rearm(engine, due_ids)
            # "none due": the sweep at a time before every pending timer.
            for _ in range(repeats):
                t, f = timed_sweep(engine, settings, at - timedelta(days=1))
                assert not f, f
                none_runs.append(t)
            out["sizes"][size] = {
                "insert_s": round(took, 1),
                "timers": size * 5,
                "due_s": median(due_runs) if due_runs else None,
                "due_runs": due_runs,
                "fired": fired,
                "none_s": median(none_runs),
                "none_runs": none_runs,
            }
            due_txt = f"{due} due {median(due_runs):.3f} s (fired {sum(fired.values())}), " if due_runs else ""
            log(f"  sweep: {size:,} open: {due_txt}none due {median(none_runs) * 1000:.2f} ms")
            if size == 100_000 or "plan" not in out:
                out["plan"] = explain(engine, settings, at)
                out["plan_size"] = size
        if not big:
            out["notes"].append(f"1M not run by default: inserting 900k more cases would take ~{(per_case or 0) * 900_000 / 60:.0f} min here; `python -m bench.run --only sweep --full` runs it")
        from cases.db import reset_engine

        reset_engine()
    return out
