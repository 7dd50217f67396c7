"""Benchmark: the trends API of one city with 100,000 decided cases on PostgreSQL (issue 13).

Cases are inserted in bulk with SQL (generate_series) into the communities of Jinan (370100),
spread over ``days`` local days from Monday 2 March 2026, each with an SLA clock and an audit
decision (about 85 % approved, 8 % rejected, 7 % breached of which most are auto-issued, R12),
plus complaints. The real ``rollup_day`` then rolls every day up (timed per day), and the
real API (``GET /api/v1/supervision/trends``, FastAPI in-process through its test client,
signed in as the Jinan city supervisor) answers ``requests`` calls per shape:

- ``day``: 28 days, one point per day;
- ``week``: 12 weeks, one point per ISO week;
- ``csv``: the 12-week CSV.

Reported: p50 / p95 per shape (ms), the roll-up's seconds per day, and EXPLAIN (ANALYZE,
BUFFERS) of the read queries and of the roll-up's decision query for one day.
"""
from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from typing import Any

from bench.common import median, percentile, pg_database, seed_store, temp_dir

CITY = "370100"
FIRST_DAY = date(2026, 3, 2)


def insert_cases(engine, n: int, *, days: int) -> float:
    """n decided cases in the city's communities over `days` days, and n/200 complaints."""
    from sqlalchemy import text

    t0 = time.perf_counter()
    base = datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, 0, 0).isoformat() + "+08:00"
    with engine.begin() as c:
        c.execute(text("""
            INSERT INTO applicant (id, id_type, id_hash, id_masked, name, phone_masked, phone_hash, created_at)
            SELECT 'tapl' || lpad(g::text, 12, '0'), 'resident_id', md5('tid' || g), '370102********0000', 'Bench',
                   '139****0000', md5('tph' || g), CAST(:base AS timestamptz)
            FROM generate_series(1, CAST(:n AS bigint)) g"""), {"n": n, "base": base})
        # Started between 08:00 and 18:00 of its day; decided 10 min to ~2 days later; g % 100 < 7 breached
        # (5 of those auto-issued the next afternoon), 7 <= g % 100 < 15 rejected, the rest approved.
        c.execute(text("""
            WITH c AS (
                SELECT row_number() OVER (ORDER BY r.code) - 1 AS i, r.code, r.parent_code AS county, p.parent_code AS city
                FROM region r JOIN region p ON p.code = r.parent_code
                WHERE r.level = 'community' AND p.parent_code = :city),
            n AS (SELECT count(*) AS n FROM c),
            s AS (SELECT g, CAST(:base AS timestamptz) + interval '1 day' * (g % :days) + interval '8 hours' + interval '1 minute' * ((g * 7) % 600) AS started
                  FROM generate_series(1, CAST(:n AS bigint)) g)
            INSERT INTO application (kind, channel, community_code, county_code, city_code, id, reference, applicant_id,
                status, submitted_at, needs_verification, access_token_hash, comparison_outcome, red_list,
                sla_started_at, sla_due_at, sla_paused_seconds, breached_at, decided_at, decision, updated_at)
            SELECT 'standard'::casekind, 'app'::casechannel, c.code, c.county, c.city, 'tapp' || lpad(s.g::text, 12, '0'), 'HPT' || s.g,
                   'tapl' || lpad(s.g::text, 12, '0'),
                   CASE WHEN s.g % 100 < 5 THEN 'auto_issued' WHEN s.g % 100 < 15 AND s.g % 100 >= 7 THEN 'rejected' ELSE 'completed' END::casestatus,
                   s.started, false, md5('ttok' || s.g), 'clear', false,
                   s.started, s.started + interval '6 hours', 0,
                   CASE WHEN s.g % 100 < 7 THEN s.started + interval '6 hours' END,
                   CASE WHEN s.g % 100 < 5 THEN s.started + interval '1 day' + interval '8 hours'
                        WHEN s.g % 100 < 7 THEN s.started + interval '7 hours'
                        ELSE s.started + interval '10 minutes' + interval '1 minute' * ((s.g * 13) % 2400) END,
                   CASE WHEN s.g % 100 < 5 THEN 'auto_issue' WHEN s.g % 100 < 15 AND s.g % 100 >= 7 THEN 'reject' ELSE 'approve' END,
                   s.started
            FROM s JOIN c ON c.i = s.g % (SELECT n FROM n)"""), {"n": n, "base": base, "days": days, "city": CITY})
        c.execute(text("""
            INSERT INTO provincialaudititem (kind, region_code, summary, created_at)
            SELECT 'complaint', a.community_code, 'bench complaint', a.submitted_at + interval '2 hours'
            FROM application a WHERE a.id LIKE 'tapp%' AND right(a.id, 3) IN ('000', '500')"""))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("VACUUM ANALYZE applicant, application, provincialaudititem"))
    return time.perf_counter() - t0


def explain(engine, sql: str, params: dict) -> str:
    from sqlalchemy import text

    with engine.connect() as c:
        rows = c.execute(text("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql), params).all()
    return "\n".join(r[0] for r in rows)


def run(*, n: int = 100_000, days: int = 84, requests: int = 60, log=print) -> dict[str, Any]:
    from fastapi.testclient import TestClient
    from sqlalchemy import text

    with pg_database("hp_bench_trends") as url, temp_dir("hp-bench-trends") as tmp:
        seed_store(url, tmp / "var", green_pass=False)
        from web.main import create_app
        from cases.clock import now
        from cases.db import get_engine, session_scope
        from cases.services import trends
        from cases.settings import get_settings

        engine = get_engine()
        insert_s = insert_cases(engine, n, days=days)
        log(f"  trends: inserted {n:,} decided cases over {days} days in {insert_s:.1f} s")
        last = FIRST_DAY + timedelta(days=days - 1)
        per_day = []
        for k in range(days):
            t0 = time.perf_counter()
            with session_scope() as session:
                trends.rollup_day(session=session, day=FIRST_DAY + timedelta(days=k), settings=get_settings(), now=now())
            per_day.append(time.perf_counter() - t0)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("VACUUM ANALYZE trend_daily, trend_rollup"))
            rows = c.execute(text("SELECT count(*) FROM trend_daily")).scalar_one()
        log(f"  trends: roll-up {median(per_day) * 1000:.0f} ms/day median ({max(per_day) * 1000:.0f} max), {rows:,} roll-up rows")

        shapes = {
            "day": {"region": CITY, "granularity": "day", "from": (last - timedelta(days=27)).isoformat(), "to": last.isoformat()},
            "week": {"region": CITY, "granularity": "week", "from": (last - timedelta(weeks=12) + timedelta(days=1)).isoformat(), "to": last.isoformat()},
        }
        out: dict[str, Any] = {"n": n, "days": days, "requests": requests, "insert_s": insert_s, "rollup_rows": rows,
                               "rollup_ms_per_day_median": median(per_day) * 1000, "rollup_ms_per_day_max": max(per_day) * 1000}
        with TestClient(create_app()) as client:
            token = client.post("/api/v1/auth/token", data={"username": "jinan-supervisor", "password": "demo-pass-2026"}).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            decided = client.get("/api/v1/supervision/trends", params=shapes["week"], headers=headers).json()["total"]["decided"]
            out["decided_in_12_weeks"] = decided
            for name, params in [*shapes.items(), ("csv", shapes["week"])]:
                path = "/api/v1/supervision/trends.csv" if name == "csv" else "/api/v1/supervision/trends"
                client.get(path, params=params, headers=headers)  # warm
                times = []
                for _ in range(requests):
                    t0 = time.perf_counter()
                    r = client.get(path, params=params, headers=headers)
                    times.append((time.perf_counter() - t0) * 1000)
                    assert r.status_code == 200, r.text
                out[f"{name}_p50_ms"], out[f"{name}_p95_ms"] = median(times), percentile(times, 95)
                log(f"  trends: {name:4s} p50 {out[f'{name}_p50_ms']:.1f} ms, p95 {out[f'{name}_p95_ms']:.1f} ms")
        start, end = trends.local_day_bounds(FIRST_DAY + timedelta(days=days // 2))
        out["explain_read"] = explain(engine, "SELECT * FROM trend_daily WHERE region_code = :r AND day >= :a AND day <= :b ORDER BY day",
                                      {"r": CITY, "a": FIRST_DAY, "b": last})
        out["explain_children"] = explain(engine, "SELECT * FROM trend_daily WHERE region_code IN (SELECT code FROM region WHERE parent_code = :r) AND day >= :a AND day <= :b",
                                          {"r": CITY, "a": FIRST_DAY, "b": last})
        out["explain_rollup_decisions"] = explain(
            engine,
            "SELECT community_code, county_code, city_code, decision, sla_started_at, decided_at, sla_paused_seconds, breached_at "
            "FROM application WHERE decided_at >= :s AND decided_at < :e AND decision IN ('approve', 'reject', 'auto_issue')",
            {"s": start, "e": end},
        )
        from cases import db

        db.reset_engine()
        return out


if __name__ == "__main__":
    import json
    import sys

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    result = run(n=n)
    for key in ("explain_read", "explain_children", "explain_rollup_decisions"):
        print(f"\n-- {key}\n{result.pop(key)}")
    print(json.dumps(result, indent=2))
