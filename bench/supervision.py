"""Benchmark (issue 13): the supervisor dashboard API of one city with 100,000 cases on PostgreSQL.

Cases are inserted in bulk with SQL (generate_series) into the communities of one city
(Jinan, 370100): 60 % decided on time, 5 % auto-issued after a breach (R12), 5 % open and
breached with a responsibility record (R13), 25 % open with due times spread around now (on
time, at risk, breached), 5 % paused (waiting for the applicant); each with an audit task.
Then the city supervisor's dashboard calls go through the real API in process (FastAPI
TestClient, bearer token): the SLA-state summary per county, the first page of open work,
breaches with responsibility, auto-issues and roster gaps. Target: p95 < 300 ms for each.
The plans of the two main queries (the summary's GROUP BY, the open-work page) are
captured from SQLAlchemy and EXPLAIN (ANALYZE, BUFFERS)-ed.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from bench.common import median, percentile, pg_database, seed_store, temp_dir

CITY = "370100"
CALLS = {
    "summary": "/api/v1/supervision/open-work/summary",
    "open_work": "/api/v1/supervision/open-work?per_page=50",
    "at_risk": "/api/v1/supervision/open-work?state=at_risk&per_page=50",
    "responsibility": "/api/v1/supervision/responsibility?per_page=50",
    "auto_issues": "/api/v1/supervision/auto-issues?per_page=50",
    "roster_gaps": "/api/v1/supervision/roster-gaps?per_page=50",
}


def insert_cases(engine, n: int, *, at: datetime, city: str = CITY) -> float:
    from sqlalchemy import text

    t0 = time.perf_counter()
    params = {"n": n, "at": at, "city": city}
    with engine.begin() as c:
        c.execute(text("""
            INSERT INTO applicant (id, id_type, id_hash, id_masked, name, phone_masked, phone_hash, created_at)
            SELECT 'sapl' || lpad(g::text, 12, '0'), 'resident_id', md5('id' || g), '370102********0000', 'Bench',
                   '139****0000', md5('ph' || g), :at
            FROM generate_series(1, CAST(:n AS bigint)) g"""), params)
        # g % 100: 0-59 decided on time, 60-64 auto-issued, 65-69 open and breached (swept),
        # 70-94 open with due times from 3 h ago to ~30 h ahead, 95-99 paused.
        c.execute(text("""
            WITH c AS (
                SELECT row_number() OVER (ORDER BY r.code) - 1 AS i, r.code, r.parent_code AS county, p.parent_code AS city
                FROM region r JOIN region p ON p.code = r.parent_code WHERE r.level = 'community' AND p.parent_code = :city),
            n AS (SELECT count(*) AS n FROM c),
            s AS (SELECT g, :at - interval '1 minute' * (g % 43200) AS sub FROM generate_series(1, CAST(:n AS bigint)) g)
            INSERT INTO application (kind, channel, community_code, county_code, city_code, id, reference, applicant_id,
                status, submitted_at, needs_verification, access_token_hash, comparison_outcome, red_list,
                sla_started_at, sla_due_at, sla_paused_at, sla_paused_seconds, breached_at, decided_at, decision, updated_at)
            SELECT 'standard'::casekind, (CASE WHEN s.g % 7 = 0 THEN 'counter' ELSE 'app' END)::casechannel, c.code, c.county, c.city,
                   'sapp' || lpad(s.g::text, 12, '0'), 'HPS' || s.g, 'sapl' || lpad(s.g::text, 12, '0'),
                   CASE WHEN s.g % 100 < 65 THEN 'completed' WHEN s.g % 100 < 95 THEN 'awaiting_audit' ELSE 'awaiting_applicant' END::casestatus,
                   s.sub, false, md5('tok' || s.g), 'clear', false, s.sub,
                   CASE WHEN s.g % 100 BETWEEN 70 AND 94 THEN :at - interval '3 hours' + interval '1 minute' * (s.g % 1800)
                        ELSE s.sub + interval '6 hours' END,
                   CASE WHEN s.g % 100 >= 95 THEN s.sub + interval '1 hour' END, 0,
                   CASE WHEN s.g % 100 BETWEEN 60 AND 69 THEN s.sub + interval '6 hours' END,
                   CASE WHEN s.g % 100 < 60 THEN s.sub + interval '2 hours' WHEN s.g % 100 < 65 THEN s.sub + interval '30 hours' END,
                   CASE WHEN s.g % 100 < 60 THEN 'approve' WHEN s.g % 100 < 65 THEN 'auto_issue' END, :at
            FROM s JOIN c ON c.i = s.g % (SELECT n FROM n)"""), params)
        c.execute(text("""
            INSERT INTO audittask (id, application_id, holder_kind, holder_code, status, missing_items, created_at)
            SELECT 'stsk' || substr(a.id, 5), a.id, 'community', a.community_code,
                   (CASE WHEN a.decision IS NULL THEN 'open' ELSE 'decided' END)::auditstatus, '[]', :at
            FROM application a WHERE a.id LIKE 'sapp%'"""), params)
        c.execute(text("""
            INSERT INTO responsibilityrecord (application_id, responsible_kind, responsible_code, issuers, ownership, due_at, breach_at, delay_seconds, outcome, created_at)
            SELECT a.id, 'community', a.community_code, '[]',
                   json_build_array(json_build_object('kind', 'community', 'code', a.community_code, 'seconds', 21600)),
                   a.breached_at, a.breached_at, CASE WHEN a.decision IS NOT NULL THEN 86400 END,
                   CASE WHEN a.decision IS NOT NULL THEN 'auto_issued' END, a.breached_at
            FROM application a WHERE a.id LIKE 'sapp%' AND a.breached_at IS NOT NULL"""), params)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("VACUUM ANALYZE applicant, application, audittask, responsibilityrecord"))
    return time.perf_counter() - t0


def explain(engine, client, headers: dict) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the statements the summary and the open-work page send."""
    from sqlalchemy import event

    captured: list[tuple[str, str, Any]] = []

    def grab(conn, cursor, statement, parameters, context, executemany):
        if "FROM application" in statement and ("GROUP BY" in statement or "LIMIT" in statement):
            captured.append(("summary per child region" if "GROUP BY" in statement else "open-work page", statement, parameters))

    event.listen(engine, "before_cursor_execute", grab)
    try:
        client.get(CALLS["summary"], headers=headers)
        client.get(CALLS["open_work"], headers=headers)
    finally:
        event.remove(engine, "before_cursor_execute", grab)
    out = []
    for label, statement, params in captured:
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
            out.append(f"-- {label}\n{statement}\n" + "\n".join(r[0] for r in cur.fetchall()))
            raw.rollback()
        finally:
            raw.close()
    return "\n\n".join(out)


def run(*, n: int = 100_000, repeats: int = 30, log=print) -> dict:
    from fastapi.testclient import TestClient

    from web.main import create_app
    from cases.db import get_engine
    from cases.seed import DEMO_PASSWORD

    at = datetime.now(timezone.utc).replace(microsecond=0)
    out: dict[str, Any] = {"n": n, "repeats": repeats, "city": CITY, "calls": {}}
    with pg_database("hp_bench_supervision") as url, temp_dir("hp-bench-supervision-") as tmp:
        seed_store(url, tmp / "var", green_pass=False)
        engine = get_engine()
        log(f"  supervision: inserting {n:,} cases in {CITY}")
        out["insert_s"] = round(insert_cases(engine, n, at=at), 1)
        with TestClient(create_app()) as client:
            r = client.post("/api/v1/auth/token", data={"username": "jinan-supervisor", "password": DEMO_PASSWORD})
            r.raise_for_status()
            headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
            for name, path in CALLS.items():
                client.get(path, headers=headers).raise_for_status()  # warm
                times = []
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    resp = client.get(path, headers=headers)
                    times.append((time.perf_counter() - t0) * 1000)
                    resp.raise_for_status()
                body = resp.json()
                out["calls"][name] = {"p50_ms": median(times), "p95_ms": percentile(times, 95), "max_ms": max(times), "total": body.get("total", body.get("counts", {}).get("total"))}
                log(f"  supervision: {name}: p50 {median(times):.1f} ms, p95 {percentile(times, 95):.1f} ms")
            out["plan"] = explain(engine, client, headers)
    out["p95_ms"] = max(c["p95_ms"] for c in out["calls"].values())
    return out
