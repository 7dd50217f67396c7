"""BENCHMARKS.md from the results of ``bench.run`` (one table row per target)."""
from __future__ import annotations

from pathlib import Path

from bench.common import fmt

ES256_REFERENCE = 15_500  # ARCHITECTURE.md: raw ES256 verify/s on a quiet machine of this kind


def _get(d: dict | None, *path, default=None):
    for p in path:
        if not isinstance(d, dict):
            return default
        d = d.get(p, d.get(str(p)) if not isinstance(p, str) else None)
    return default if d is None else d


def _met(ok: bool | None) -> str:
    return "—" if ok is None else ("**yes**" if ok else "**no**")


def _when(b: dict | None) -> str:
    if not b:
        return "not run"
    if b.get("error"):
        return f"failed: {b['error'][:120]}"
    return f"{b.get('measured_at', '?')}, load {b.get('loadavg', ['?'])[0]}→{b.get('loadavg', ['?', '?'])[-1]}"


def rows(doc: dict) -> list[tuple[str, str, str, str, str, str]]:
    B = doc.get("benchmarks", {})
    out = []
    s = B.get("sla") or {}
    if s and not s.get("error"):
        per = s["per_s"]
        out.append(("`sla` due-time computation (R11, 6 working hours, one core)", "≥ 100,000/s", f"{fmt(per)}/s", f"{fmt(s['baseline_per_s'])}/s clock-hours `+ 6 h`", _met(per >= 100_000), f"`sla/_bench.bench({s['n']:,})`, median of {len(s['runs'])}"))
    else:
        out.append(("`sla` due-time computation", "≥ 100,000/s", "—", "—", "—", _when(s)))

    v = B.get("verify") or {}
    if v and not v.get("error"):
        out.append(("checkpoint verify in process: `cases.codes.decide()`", "≥ 0.5 × raw", f"{fmt(v['decide_per_s'])}/s = **{v['decide_ratio']:.2f} ×**", f"raw ES256 `verify` {fmt(v['raw_per_s'])}/s", _met(v["decide_ratio"] >= 0.5), "`cases/codes/_bench.bench`, median of 3"))
        out.append(("checkpoint verify in process: `checkpoint.verify(qr=)` (store path, keys cached)", "≥ 0.5 × raw", f"{fmt(v['store_qr_per_s'])}/s = **{v['store_qr_ratio']:.2f} ×**", "raw, measured beside each run", _met(v["store_qr_ratio"] >= 0.5), f"one session reused; with a new session per call {fmt(v['store_qr_new_session_per_s'])}/s"))
        out.append(("… `checkpoint.verify(card_number=)` (one indexed SELECT + verify)", "(≥ 0.5 × raw)", f"{fmt(v['store_card_per_s'])}/s = {v['store_card_ratio']:.2f} ×", "raw", _met(v["store_card_ratio"] >= 0.5), "SQLite store; the typed-in card number needs the token from the store"))
    else:
        out.append(("checkpoint verify in process", "≥ 0.5 × raw", "—", "—", "—", _when(v)))

    h = B.get("http") or {}
    R = h.get("results", {}) if h and not h.get("error") else {}
    if R:
        best_w = "w2" if "verify/qr/w2" in R else "w1"
        qr, card, bare = R.get(f"verify/qr/{best_w}", {}), R.get(f"verify/card/{best_w}", {}), R.get(f"bare/qr/{best_w}", {})
        workers = 2 if best_w == "w2" else 1
        cpu = f"; server CPU-ms/request: QR {fmt(qr.get('cpu_ms_per_req'), 2)}, card {fmt(card.get('cpu_ms_per_req'), 2)}, bare {fmt(bare.get('cpu_ms_per_req'), 2)}" if qr.get("cpu_ms_per_req") else ""
        server = f"; `{h['server']}`" if h.get("server") else ""
        out.append((f"checkpoint verify over HTTP, {workers} uvicorn worker(s), QR", "≥ 1,500 req/s", f"{fmt(qr.get('rps'))} req/s (card number {fmt(card.get('rps'))})", f"bare constant endpoint {fmt(bare.get('rps'))} req/s", _met(qr.get("rps", 0) >= 1500), f"{h['generator']}{cpu}; 1 worker: QR {fmt(_get(R, 'verify/qr/w1', 'rps'))}, card {fmt(_get(R, 'verify/card/w1', 'rps'))}, bare {fmt(_get(R, 'bare/qr/w1', 'rps'))} req/s{server}; load {fmt(qr.get('loadavg'), 1)}"))
        paced, bpaced = R.get(f"verify/paced/{best_w}", {}), R.get(f"bare/paced/{best_w}", {})
        shared = (f"; generator late by {fmt(paced['gen_lag_p99_ms'], 1)} ms at p99, server threads waited {fmt(paced.get('server_rq_wait_ms_per_s'))} ms/s "
                  f"for a CPU, load {fmt(paced.get('loadavg'), 1)}") if paced.get("gen_lag_p99_ms") is not None else ""
        out.append((f"checkpoint verify over HTTP: p99 at {h.get('rate', 500):.0f} req/s offered ({workers} worker(s))", "p99 < 20 ms", f"p99 {fmt(paced.get('p99_ms'), 1)} ms (p50 {fmt(paced.get('p50_ms'), 1)}; {fmt(paced.get('achieved'))} req/s achieved)", f"bare: p99 {fmt(bpaced.get('p99_ms'), 1)} ms", _met(paced.get("p99_ms", 1e9) < 20), f"{h['paced_generator']}; QR and card number alternating{shared}; 1 worker p99 {fmt(_get(R, 'verify/paced/w1', 'p99_ms'), 1)} ms"))
    else:
        out.append(("checkpoint verify over HTTP", "≥ 1,500 req/s; p99 < 20 ms at 500 req/s", "—", "—", "—", _when(h)))

    w = B.get("sweep") or {}
    S = w.get("sizes", {}) if w and not w.get("error") else {}
    if S:
        big = _get(S, 100000) or _get(S, "100000") or {}
        due_s, none_s = big.get("due_s"), big.get("none_s")
        out.append(("SLA sweep, PostgreSQL, 100k open cases (500k timers), 1k due", "< 1 s", f"{fmt(due_s, 2)} s" if due_s is not None else "—", "—", _met(due_s is not None and due_s < 1.0), f"fired {big.get('fired')}; real `sla_service.sweep`, batch 500"))
        out.append(("SLA sweep, 100k open, none due", "< 50 ms", f"{fmt(none_s * 1000 if none_s is not None else None, 2)} ms", "—", _met(none_s is not None and none_s < 0.05), "one index range scan, see the plan below"))
        sizes = sorted(int(k) for k in S)
        flat = " → ".join(f"{k // 1000:,}k: {S.get(k, S.get(str(k)))['none_s'] * 1000:.2f} ms" for k in sizes)
        base = S.get(sizes[0], S.get(str(sizes[0])))["none_s"]
        top = S.get(sizes[-1], S.get(str(sizes[-1])))["none_s"]
        skipped = "; ".join(w.get("notes", []))
        out.append(("SLA sweep none-due time flat from 10k to 1M open", "flat", flat, "—", _met(top <= max(base * 2, 0.005)), skipped or "1M measured"))
    else:
        out.append(("SLA sweep, PostgreSQL", "< 1 s (1k due), < 50 ms (none), flat", "—", "—", "—", _when(w)))

    i = B.get("intake") or {}
    I = i.get("intake", {}) if i and not i.get("error") else {}
    if I:
        best_c = max(I, key=lambda c: I[c]["per_s"])
        best = I[best_c]
        per_c = ", ".join(f"c={c}: {I[c]['per_s']:.1f}/s" for c in I)
        out.append(("intake: applications/s from the outbox to `awaiting_audit`, each its own Prefect flow run, Prefect server on PostgreSQL", "≥ 20/s sustained", f"{best['per_s']:.1f}/s (best, worker limit {best_c})", f"same steps without Prefect: {i['baseline_per_s']:.1f}/s" + (f"; naive 3-task Prefect flow: {i['naive_per_s']:.1f} runs/s" if i.get("naive_per_s") else ""), _met(best["per_s"] >= 20), f"{per_c}; {i['n']} applications per run, all reached the queue: {all(I[c].get('all_reached_queue') for c in I)}"))
        naive, served = i.get("naive") or {}, i.get("naive_served") or {}
        if naive.get("per_s") or served.get("per_s"):
            full_c = max(I, key=lambda c: I[c].get("full_per_s") or 0)
            full = I[full_c].get("full_per_s")
            ours = full or best["per_s"]
            with_resume = (
                f"with the suspension and the resume (declare, compare, assign_audit, suspend; the issuer's approval, untimed; resume, record_decision, issue_pass to Completed), worker limit {full_c}, all completed: {all(I[c].get('all_completed') for c in I)}"
                if full else "ours to the suspension only (declare, compare, assign_audit, suspend)"
            )
        if served.get("per_s"):
            ratio = ours / served["per_s"]
            per_limit = ", ".join(f"limit {k}: {v['per_s']:.2f}/s" for k, v in sorted(served["limits"].items(), key=lambda kv: int(kv[0])))
            out.append((
                "application flow runs/s against a naive 3-task Prefect flow's, served the usual way (same Prefect server, same run)", "ours ≥ 2 × naive",
                f"**{ratio:.2f} ×** ({ours:.2f} vs {served['per_s']:.2f} runs/s)", f"naive served: {served['worker_cpu_ms']:.0f} CPU-ms per run (the process worker with its run processes)",
                _met(ratio >= 2),
                f"ours {with_resume}; naive: plain `@flow` of three plain `@task`'s, each a store read and write, deployed on a `process` work pool and run by `prefect worker start --type process` (a process per run) at the worker's priority, {served.get('n', '?')} runs per repeat, best limit ({per_limit})",
            ))
        if naive.get("per_s"):
            ratio = ours / naive["per_s"]
            out.append((
                "the same against the naive flow called in-process, one run after another (Prefect's cheapest path; no deployment, no worker)", "— (report)",
                f"{ratio:.2f} × ({ours:.2f} vs {naive['per_s']:.2f} runs/s); to the suspension only {best['per_s'] / naive['per_s']:.2f} ×", f"naive called: {naive['requests_per_run']:.1f} requests + {naive['events_per_run']:.1f} events, {naive['client_cpu_ms']:.0f} client CPU-ms per run",
                "—",
                f"`flow()` called {naive.get('n', '?')} times in a row, median of {len(naive.get('runs', []))}; a sync flow's end joins Prefect's heartbeat thread, which sleeps in 1 s steps, so each call spends up to 1 s idle (the calls are latency-bound, not CPU-bound)",
            ))
        if i.get("baseline_per_s"):
            ratio = best["per_s"] / i["baseline_per_s"]
            out.append((
                "intake with the steps as task runs against the same steps without Prefect (same run)", "≥ 0.4 ×",
                f"**{ratio:.2f} ×** ({best['per_s']:.1f} vs {i['baseline_per_s']:.1f}/s)", f"without Prefect: {i['baseline_cpu_ms']:.0f} CPU-ms per application",
                _met(ratio >= 0.4),
                f"ours to the suspension (worker limit {best_c}); the Prefect server alone spends {best['server_cpu_ms']:.0f} CPU-ms per application, so on these 2 cores it caps intake near {1000 / max(best['server_cpu_ms'], 1):.1f}/s whatever the worker does"
                + (f". {_floor_sentence(floor)}" if (floor := prefect_floor(i)) else ""),
            ))
        out.append(("Prefect cost per application (c=" + str(best_c) + ")", "report, and cut", f"{best['requests_per_app']:.1f} HTTP requests + {best['events_per_app']:.1f} events; CPU {best['client_cpu_ms']:.0f} ms worker + {best['server_cpu_ms']:.0f} ms Prefect server + {best['pg_cpu_ms']:.0f} ms its PostgreSQL", f"without Prefect: {i['baseline_cpu_ms']:.0f} CPU-ms/application (same steps)", "—", "requests counted by wrapping httpx in the worker process; events by wrapping the events client"))
        pr = i.get("per_run_observer") or {}
        ship = _at_limit(I, pr.get("concurrency"))
        if pr.get("per_s") and ship:
            out.append((
                f"the cut: the worker's one suspension observer against Prefect's observer per run (c={pr['concurrency']}, same run)", "report, and cut",
                f"{ship['per_s']:.2f} vs {pr['per_s']:.2f} applications/s (**{ship['per_s'] / pr['per_s']:.2f} ×**); Prefect server {ship['server_cpu_ms']:.0f} vs {pr['server_cpu_ms']:.0f}, worker {ship['client_cpu_ms']:.0f} vs {pr['client_cpu_ms']:.0f} CPU-ms per application",
                f"Prefect's per-run observer: {pr['requests_per_app']:.1f} requests per application (ours {ship['requests_per_app']:.1f})", "—",
                "per run, Prefect's engine starts a thread, an event loop, a client (TLS trust store loaded) and an events websocket (a backfill query on the server) to notice an outside Suspend; "
                "`workers/inprocess.py` watches all its runs over one; the per-run variant measured first in the same run",
            ))
        post = i.get("post", {})
        busy, idle = post.get("busy", {}), post.get("idle", {})
        if post.get("p99_ratio") is not None and post.get("capacity_per_s"):
            out.append((
                f"`POST /api/v1/applications` p99 at half the API's submission capacity ({fmt(post['rate'], 1)} req/s offered) while the worker runs flows, against the worker stopped",
                "≤ 1.5 ×", f"p99 {fmt(busy.get('p99_ms'), 1)} ms = **{post['p99_ratio']:.2f} ×** (p50 {fmt(busy.get('p50_ms'), 1)} ms, {fmt(busy.get('achieved'), 1)} req/s achieved)",
                f"worker stopped: p50 {fmt(idle.get('p50_ms'), 1)}, p99 {fmt(idle.get('p99_ms'), 1)} ms", _met(post["p99_ratio"] <= 1.5),
                f"capacity {fmt(post['capacity_per_s'], 1)} POST/s measured first (200 applications, 8 connections, no worker); open loop, 30 % arrivals (which also sign a yellow pass), PostgreSQL store, 1 API process, 1 worker (limit 8); "
                + (f"each p99 over all {busy['samples']} / {idle['samples']} samples of {len(busy.get('runs', []))} windows of {fmt(post.get('seconds'))} s; per window busy/stopped p99 "
                   + ", ".join(f"{b['p99_ms']:.0f}/{d['p99_ms']:.0f}" for b, d in zip(busy.get("runs", []), idle.get("runs", []))) + " ms"
                   if busy.get("samples") else f"medians of {len(busy.get('runs', []))}"),
            ))
        else:
            out.append(("`POST /api/v1/applications` latency at 50 req/s offered while the worker works", "p99 < 50 ms", f"p50 {fmt(busy.get('p50_ms'), 1)} ms, p99 {fmt(busy.get('p99_ms'), 1)} ms ({fmt(busy.get('achieved'), 1)} req/s achieved)", f"worker's outbox draining stopped: p50 {fmt(idle.get('p50_ms'), 1)}, p99 {fmt(idle.get('p99_ms'), 1)} ms", _met(busy.get("p99_ms", 1e9) < 50), "open loop, 30 % arrivals (which also sign a yellow pass), PostgreSQL store, 1 worker"))
    else:
        out.append(("intake through Prefect", "≥ 20/s", "—", "—", "—", _when(i)))
        out.append(("`POST /api/v1/applications` latency while flows run", "p99 < 50 ms", "—", "—", "—", _when(i)))

    e = B.get("embedded") or {}
    if e and not e.get("error"):
        emb, pg = e["embedded"], e["postgres"]
        out.append((
            f"the embedded default (`make run`: SQLite store, its local Prefect server on SQLite) end to end: {emb['n']} standard applications by {emb['clients']} clients through the public API until all are in the issuer's queue",
            "≥ 0.6 × the same on PostgreSQL", f"{emb['per_s']:.2f}/s = **{e['ratio']:.2f} ×**", f"the same `serve` with its store and Prefect server on PostgreSQL: {pg['per_s']:.2f}/s",
            _met(e["ratio"] >= 0.6),
            f"POST p99 {emb['post_p99_ms']:.0f} vs {pg['post_p99_ms']:.0f} ms; CPU of serve's processes {emb['cpu_ms_per_app']:.0f} vs {pg['cpu_ms_per_app']:.0f} ms per application; ready after {emb['ready_s']:.0f} vs {pg['ready_s']:.0f} s (`bench/embedded.py`)",
        ))
    else:
        out.append(("the embedded default (`make run`) end to end", "≥ 0.6 × the same on PostgreSQL", "—", "—", "—", _when(e)))

    c = B.get("capacity") or {}
    if c and not c.get("error"):
        check = "; ".join(f"{w}: {c[w]['intake']['per_s']:.2f}/s measured, {c[w]['intake']['predicted_per_s']:.2f}/s predicted" for w in ("1 worker", "2 workers"))
        out.append((
            f"capacity model: cores of each kind for {c['rate']:.0f} applications/s, checked on the local cluster with 1 worker and 2",
            "report", f"**{sum(c['table'].values()):.0f} cores** at {c['utilisation']:.0%} ({sum(c['per_application_cpu_ms'].values()):.0f} CPU-ms per application)",
            f"intake, {check}", "—", f"`bench/capacity.py`, {c['n']} applications per run; table and check below",
        ))
    else:
        out.append(("capacity model for 120 applications/s", "report", "—", "—", "—", _when(c)))

    sv = B.get("supervision") or {}
    if sv and not sv.get("error"):
        calls = sv.get("calls", {})
        per_call = ", ".join(f"{name} {fmt(c['p95_ms'], 1)}" for name, c in calls.items())
        out.append((f"supervisor dashboard API, one city with {sv['n']:,} cases, PostgreSQL (issue 13)", "p95 < 300 ms", f"p95 {fmt(sv['p95_ms'], 1)} ms (slowest call)", "—", _met(sv["p95_ms"] < 300), f"p95 per call, ms: {per_call}; {sv['repeats']} requests each through the API in process (TestClient, bearer token); plans below"))
    else:
        out.append(("supervisor dashboard API, one city with 100,000 cases", "p95 < 300 ms", "—", "—", "—", _when(sv)))

    m = B.get("memory") or {}
    if m and not m.get("error"):
        out.append((f"API process RSS after {m['requests']:,} requests (verify + GET case)", "< 250 MB", f"{m['after_mib']:.0f} MiB (start {m['start_mib']:.0f}, warm {m['warm_mib']:.0f})", f"bare FastAPI app: {m['baseline_after_mib']:.0f} MiB", _met(m["after_mib"] * 1.048576 < 250), "1 uvicorn worker, SQLite store"))
    else:
        out.append(("API process RSS after 10k requests", "< 250 MB", "—", "—", "—", _when(m)))

    t = B.get("trends") or {}
    if t and not t.get("error"):
        worst = max(t["day_p95_ms"], t["week_p95_ms"], t["csv_p95_ms"])
        out.append((f"`GET /api/v1/supervision/trends` of one city, {t['n']:,} cases over {t['days']} days, PostgreSQL (daily roll-ups)", "p95 < 300 ms",
                    f"p95 day {fmt(t['day_p95_ms'], 1)} ms, week {fmt(t['week_p95_ms'], 1)} ms, CSV {fmt(t['csv_p95_ms'], 1)} ms",
                    f"roll-up {fmt(t['rollup_ms_per_day_median'])} ms/day (max {fmt(t['rollup_ms_per_day_max'])})", _met(worst < 300),
                    f"in process (test client), {t['requests']} calls per shape, signed in as the city supervisor; {t['rollup_rows']:,} roll-up rows; plans below"))
    else:
        out.append(("`GET /api/v1/supervision/trends`, one city, 100k cases", "p95 < 300 ms", "—", "—", "—", _when(t)))
    return out


# Changes already made because of these profiles (the figures above are measured after them).
APPLIED = [
    "*Applied since the first measurements (2026-11-27):* the dispatcher runs each batch inside one shared",
    "Prefect client and reads each flow run once less (intake 1.4/s -> 2.3/s, dispatcher CPU ~400 -> 184 ms",
    "per application); the request guards are plain ASGI middleware and trivial dependencies async (HTTP",
    "verify 909 -> 1,236 req/s on 2 workers); the submission path lost three SELECTs and two flushes; the",
    "sweep claims timers without synchronising the session (1k due: 10.0 s -> 6.4 s), then claims each batch with",
    "one UPDATE, reads its cases, audit tasks, event-chain heads and breach inputs once per batch and sends its",
    "events and notifications as multi-row INSERTs at commit (~8 statements per timer -> ~15 per batch; 1k due,",
    "medians of 3 on the same machine: 3.1-3.3 s before -> 0.65-0.68 s, 0.99 s at load 3 on its 2 cores); the",
    "checkpoint verify route is `async` and decides a QR from the fresh cache in the event loop, touching the",
    "store (in the threadpool) only to refresh the cache or look up a card number, and `healthpass serve` and",
    "the benchmark share one uvicorn command line (2 workers, QR, A/B at load ~2.6: 0.56-0.62 -> 0.23 server",
    "CPU-ms/request, p99 at 500 req/s 8.6-15.4 -> 3.0-5.9 ms; the same-run comparison is in *Checkpoint verify",
    "over HTTP: where the time goes*); intake: the screening steps run in the flow as one store transaction",
    "instead of four task runs, runs are named at creation with a fixed result storage, the dispatcher switches",
    "off Prefect's per-run suspension observer and heartbeat and keeps its slots full (10.4 -> ~5 requests and",
    "13 -> 0 events per application; dispatcher + Prefect server CPU 184 + 327 -> ~25 + ~40 ms; see *Intake",
    "through Prefect*); `healthpass serve` runs the Prefect server and the dispatcher behind the API (nice 10,",
    "own session), which took the POST p99 while flows run from ~140 ms to ~40 ms in a trial run; submission",
    "references have 40 random bits (with 24 they collided under load and failed a POST with a 500).",
    "*Since 2026-12:* the home-made dispatcher above is gone; flow runs are executed by the healthpass Prefect worker",
    "(`workers/inprocess.py`, limit = the concurrency) with the application's steps as Prefect task runs again, and the",
    "intake benchmark drives that worker (`bench/_worker_proc.py`) and compares it with a naive 3-task Prefect flow.",
]


def _limits(doc: dict) -> list[str]:
    B = doc.get("benchmarks", {})
    md: list[str] = []

    w = B.get("sweep") or {}
    big = _get(w, "sizes", 100000) or _get(w, "sizes", "100000") or {}
    diag = w.get("diagnosis")
    if big.get("due_s") is not None and big["due_s"] >= 1.0 and diag:
        md += [
            "### SLA sweep with 1k due (unmet)",
            "",
            f"One more 1k-due sweep under cProfile ({diag['seconds_profiled']} s with the profiler): "
            f"**{diag['statements']} SQL statements for {diag['fired']} timers ({diag['statements_per_timer']} per timer)**, each a round trip.",
            "",
            "| statement | count |",
            "|---|---|",
            *[f"| `{s}` | {n} |" for s, n in diag["top_statements"]],
            "",
            "| function (cumulative) | calls | seconds |",
            "|---|---|---|",
            *[f"| {name} | {calls} | {sec} |" for name, calls, sec in diag["functions"]],
            "",
            "What the sweep does now (`cases/services/sla_service.py` `sweep()`/`_fire_batch()`): per batch of 500 it claims the "
            "first due timer of each case with one `UPDATE ... WHERE id IN (...) AND pending RETURNING id`, reads the batch's cases "
            "(fresh, locked), audit tasks, event-chain heads (`cases/events.py` `chain_heads`, one `DISTINCT ON` query) and what its "
            "breaches look up (responsibility records, issuers, auto-issue rows) once, and lets the events, notifications and "
            "records go out as multi-row INSERTs at commit: a few statements per batch instead of ~8 per timer. A case's later "
            "timers in the same batch (a sweep catching up) are still claimed one by one, after the earlier firing that may cancel them.",
            "",
            "What is left is client CPU in the commit's flush, not round trips: psycopg converts each multi-row INSERT "
            "(thousands of `%(name)s` placeholders, too long for its query cache) in `_split_query`, and SQLAlchemy/SQLModel build, "
            "then flush, ~2,800 new ORM objects for the 1k timers (1,200 events, 1,000 notifications, and the breaches' records, "
            "audit items and auto-issue timers). A py-spy profile of the 1k-due sweep at 0.6 s: the commit's flush ~47 % "
            "(psycopg's query conversion ~25 %), building the objects in `_fire` ~33 % (SQLModel's constructor ~16 %). Python's "
            "cyclic garbage collector, rescanning those objects as they pile up, is a quarter of the whole (0.49 s -> 0.36 s "
            "with `gc` paused, same data, alternating runs); pausing it is a process-wide setting, so it is left to the "
            "process that runs the sweep. On the 2 shared cores of this machine the figure swings with the other load "
            "(0.5-1.5 s for the same data).",
            "",
        ]

    h = B.get("http") or {}
    R = h.get("results", {})
    wk = "w2" if "verify/qr/w2" in R else "w1"
    qr, card, paced, bare_paced = (R.get(f"{k}/{wk}") or {} for k in ("verify/qr", "verify/card", "verify/paced", "bare/paced"))
    slow, tail = qr.get("rps") is not None and qr["rps"] < 1500, paced.get("p99_ms") is not None and paced["p99_ms"] >= 20
    if slow or tail:
        md += ["### Checkpoint verify over HTTP (unmet)", ""]
        if slow and qr.get("cpu_ms_per_req"):
            md += [
                f"Throughput: the server spent {qr['cpu_ms_per_req']:.2f} CPU-ms per QR request, so {qr['rps']:,.0f} req/s used "
                f"{qr['rps'] * qr['cpu_ms_per_req'] / 1000:.2f} of the 2 cores; 1,500 req/s needs {1.5 * qr['cpu_ms_per_req']:.2f}. wrk and the "
                f"other sessions' work (load {fmt(qr.get('loadavg'), 1)}) share the same 2 cores. Where the server's time goes is in "
                "*Checkpoint verify over HTTP: where the time goes* above.",
                "",
            ]
        if tail:
            runs = paced.get("runs", [])
            per_run = "; ".join(f"p99 {r['p99_ms']:.1f} ms / {fmt(r.get('server_rq_wait_ms_per_s'))} ms/s / lag {fmt(r.get('gen_lag_p99_ms'), 1)} ms" for r in runs if r.get("p99_ms") is not None)
            md += [
                f"Tail: p99 {paced['p99_ms']:.1f} ms at {fmt(paced.get('achieved'))} req/s (the bare endpoint in the same conditions: "
                f"{fmt(bare_paced.get('p99_ms'), 1)} ms). Per run, p99 / how long the server's threads waited on the run queue for a CPU "
                f"per second / the generator's lateness at p99: {per_run}. Load average {fmt(paced.get('loadavg'), 1)} on 2 cores. "
                "A request waiting for a CPU behind other processes waits whole scheduler slices (milliseconds each), so the tail "
                "follows the server's run-queue wait. "
                + ("The bare endpoint (no store, no signature) missed it too in the same conditions. " if (bare_paced.get("p99_ms") or 0) >= 20 else
                   "The bare endpoint stayed under it, so part of the tail is the verify path: half the paced requests are typed-in card "
                   f"numbers, which go to the threadpool and the SQLite store ({fmt(card.get('cpu_ms_per_req'), 2)} CPU-ms/request against "
                   f"{fmt(qr.get('cpu_ms_per_req'), 2)} for a QR). ")
                + f"The generator (Python open loop on uvloop, GC off for the run) cost {fmt(paced.get('gen_cpu_ms_per_req'), 2)} CPU-ms per "
                "request; pinning it to one core (`taskset`) made no consistent difference while this was built. A fair p99 needs the 2 cores to "
                "ourselves: re-run `--only http` when the load average is below 2.",
                "",
            ]

    i = B.get("intake") or {}
    I = i.get("intake", {})
    if I:
        best_c = max(I, key=lambda c: I[c]["per_s"])
        best = I[best_c]
        runs = best.get("runs", [{}])
        reqs, events = runs[0].get("requests", {}), runs[0].get("events", {})
        n = i.get("n", 1)
        cpu_total = best["client_cpu_ms"] + best["server_cpu_ms"] + best["pg_cpu_ms"]
        met = best["per_s"] >= 20
        pr = i.get("per_run_observer") or {}
        md += [
            "### Intake through Prefect" + ("" if met else " (unmet)"),
            "",
            f"Per application (worker limit {best_c}, one run of {n}): "
            f"**{best['requests_per_app']:.1f} HTTP requests** to the Prefect API and **{best['events_per_app']:.1f} events** sent on its websocket, "
            f"**{cpu_total:.0f} CPU-ms** in all ({best['client_cpu_ms']:.0f} worker, {best['server_cpu_ms']:.0f} Prefect server, "
            f"{best['pg_cpu_ms']:.0f} Prefect's PostgreSQL backends) against {i['baseline_cpu_ms']:.0f} CPU-ms for the same three steps "
            f"without Prefect. 2 cores / {cpu_total:.0f} ms is {2000 / cpu_total:.1f} applications/s on an idle machine; "
            "the Prefect server is one process, so its share alone caps it at "
            f"{1000 / max(best['server_cpu_ms'], 1):.0f}/s. Requests and CPU include the worker's pool polls and heartbeats "
            "and the server's background services during the drain, so a short run overstates them.",
            "",
            *([
                f"Naive baseline in the same run, served the usual way (the target's baseline): a plain `@flow` of three plain `@task`'s "
                f"(a store read and write each) deployed on a `process` work pool and executed by Prefect's process worker, "
                f"a new Python process per run: {i['naive_served']['per_s']:.2f} runs/s at its best limit ({i['naive_served']['limit']}), "
                f"{i['naive_served']['worker_cpu_ms']:.0f} CPU-ms per run in the worker and its run processes (importing Prefect and the flow "
                f"in each run's process is most of it); ours/naive **{best['full_per_s'] / i['naive_served']['per_s']:.2f} ×** with the resume "
                f"(target ≥ 2 ×). Healthpass's worker executes runs in its long-lived process instead (issue 15).",
                "",
            ] if (i.get("naive_served") or {}).get("per_s") and best.get("full_per_s") else []),
            *([
                f"The same flow called in-process one run after another against the same Prefect server (no deployment, no worker): "
                f"{i['naive']['per_s']:.1f} runs/s, "
                f"{i['naive']['requests_per_run']:.1f} requests + {i['naive']['events_per_run']:.1f} events and "
                f"{i['naive']['client_cpu_ms']:.0f} client CPU-ms per run; ours/called {best['per_s'] / i['naive']['per_s']:.2f} × to the suspension"
                + (f", {best['full_per_s'] / i['naive']['per_s']:.2f} × with the resume ({best['full_per_s']:.2f} runs/s; the resume leg {best['resumed_requests_per_app']:.1f} requests and {best['resumed_client_cpu_ms']:.0f} worker CPU-ms per application)" if best.get("full_per_s") else "")
                + ". These calls are latency-bound: a sync flow's end joins Prefect's run-heartbeat thread, which sleeps in 1 s steps "
                "(`PREFECT_FLOWS_HEARTBEAT_FREQUENCY`, 180 s by default), so each call idles up to 1 s; by CPU, one such call costs far less "
                "than our two executions (suspension, then resume) of about 17 requests each.",
                "",
            ] if (i.get("naive") or {}).get("per_s") else []),
            *([
                f"**Why ≥ 0.4 × the steps without Prefect is out of reach on 2 cores.** {_floor_sentence(floor)}. "
                "So a flow with three task runs, run Prefect's cheapest way, already costs more than the target allows; ours does more per "
                "application (a deployment's run claimed by a worker, the suspension, the steps' store transactions). What the server spends "
                "per run is Prefect's: its API handling each state change through its orchestration rules, and its services persisting "
                "each task run's events (with `prefect server start --no-services`, which records no task run at all, an A/B on "
                "2026-12-07 measured 141 against 263 server CPU-ms per naive run, idle services included). Meeting the target would take Prefect's per-run "
                "work cut below its own minimum, or the task runs the issue asks for given up.",
                "",
            ] if (floor := prefect_floor(i)) else []),
            "**Cut in the worker (2026-12-07): one suspension observer per worker, not one per run.** For every run of a deployment, "
            "Prefect's engine starts a suspension observer of its own (`prefect/_flow_run_suspension.py`) to notice a Suspend requested "
            "from outside: a thread, an event loop, a Prefect client (which loads the TLS trust store: `ssl.create_default_context` "
            "was 7.8 % of the worker's samples in the previous run's profile; a traced drain found 56 of its 67 calls there, one per run), "
            "an events websocket with its backfill query on the server, a `POST /flow_runs/filter` and a `GET /flow_runs/{id}`. "
            "The healthpass worker keeps one Prefect `FlowRunSuspendingObserver` for all the runs it executes (`workers/inprocess.py`); "
            "an outside Suspend still stops a run at its next task "
            "(`tests/integration/test_workers.py::test_r14_suspend_in_prefect_stops_a_running_run_at_its_next_step_and_resume_runs_it_on`)"
            + ("; the table row \"the cut\" gives what it bought in this run" if pr.get("per_s") and _at_limit(I, pr.get("concurrency")) else "")
            + ". The observer's first read of each run stays: it keeps a Suspended event of the run's previous execution from being "
            "taken for a new request. With no observer at all (an experiment, not shipped: an outside Suspend would go unnoticed) "
            "an A/B on 2026-12-07 reached 2.55-2.77 against 1.65-1.76 applications/s, 300-330 against 431-473 server CPU-ms.",
            "",
            "**Cut in the Prefect server's settings (2026-12-07): its connection pool on PostgreSQL.** Prefect's server keeps 5 "
            "connections and opens up to 10 more under load, closing each as it comes back. An A/B that day (worker limit 8, "
            "2 drains of 48 per arm, arms alternating): with Prefect's default, 117-141 new PostgreSQL sessions per drain (about "
            "2.7 per application), and the backends that exited used 4.8-5.8 CPU-s per drain, 100-121 CPU-ms per application, "
            "which this benchmark did not count then (it read the backends alive at the end: 0.7 ms). With 20 kept "
            "(`PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_SIZE`, now set by `healthpass serve` and `deploy/cluster.env`): 0-4 new "
            "sessions per drain, PostgreSQL 34-38 CPU-ms per application in all, the Prefect server 318-330 against 353. Intake "
            "2.77-2.84 against 2.41/s, within the noise (the default gave 2.75-2.82/s in two arms the same hour): the CPU is "
            "saved, the rate is not bound by it at this size. PostgreSQL's CPU now counts the backends that exit during a drain "
            "(the postmaster's reaped children).",
            "",
            "**Measured, not applied to this benchmark's server: the recorder's batch sizes.** An A/B on 2026-12-07 (one session, "
            "PostgreSQL-backed Prefect server, worker limit 4, 2 drains of 48 each) with the task-run recorder and event persister "
            "batched as in `deploy/cluster.env` (50/50 and 200/50) against Prefect's defaults (batch size 1): Prefect server "
            "353-401 → 334-339 CPU-ms per application, intake 1.9-2.1 → 1.8-1.9/s, within this machine's run-to-run noise. "
            "The cluster keeps them (fewer, larger inserts on a shared PostgreSQL); they are not what limits intake here.",
            "",
            "The cuts made to the home-made dispatcher (one store transaction instead of task runs, no suspension observer, "
            "no heartbeat) are history: the worker runs the steps as Prefect task runs with Prefect's own engine, so each "
            "task run's state changes are requests and events again (tables below).",
            "",
            "| HTTP request (per run of " + str(n) + ") | count | per application |",
            "|---|---|---|",
            *[f"| `{k}` | {c} | {c / n:.1f} |" for k, c in sorted(reqs.items(), key=lambda kv: -kv[1])],
            "",
        ]
        if events:
            md += [
                "| event | count | per application |",
                "|---|---|---|",
                *[f"| `{k}` | {c} | {c / n:.1f} |" for k, c in sorted(events.items(), key=lambda kv: -kv[1])],
                "",
            ]
        prof = i.get("profile")
        if prof:
            for who in ("worker", "server"):
                p = prof.get(who) or prof.get({"worker": "dispatcher"}.get(who, who), {})  # results before 2026-12 say "dispatcher"
                if not p.get("samples"):
                    continue
                md += [
                    f"py-spy of the {who} during one more drain ({p['samples']} samples over {prof['seconds']:.0f} s; share of non-idle samples):",
                    "",
                    "| inclusive (any frame in) | % |",
                    "|---|---|",
                    *[f"| `{k}` | {v} |" for k, v in sorted(p["inclusive"].items(), key=lambda kv: -kv[1])],
                    "",
                    "| self (leaf frame) | % |",
                    "|---|---|",
                    *[f"| `{k}` | {v} |" for k, v in p["top_self"][:12]],
                    "",
                ]
        if not met:
            md += [
                f"What limits it: the Prefect server is one process and the worker one event loop. At {best['per_s']:.1f}/s the "
                f"server process is busy {best['server_cpu_ms'] * best['per_s'] / 10:.0f} % of one core and the worker "
                f"{best['client_cpu_ms'] * best['per_s'] / 10:.0f} %; every run is a chain of round trips to that server "
                "(create, the worker's claim, the engine's reads and state transitions through Prefect's orchestration rules, and the "
                "three task runs' states as events its services persist) and several store transactions, so more runs at once queue on "
                "the server instead of adding throughput. The next steps are outside one 2-core machine: the Prefect "
                "server on its own cores (`prefect server start --workers N` with PostgreSQL and Redis messaging, the production shape "
                "in ARCHITECTURE.md) and more workers (the outbox rows are claimed, so any number may drain it).",
                "",
            ]

    post = _get(i, "post", "busy") or {}
    ratio = _get(i, "post", "p99_ratio")
    if post.get("p99_ms") is not None and ratio is not None:
        idle = _get(i, "post", "idle") or {}
        md += [
            "### POST latency while flows run" + ("" if ratio <= 1.5 else " (unmet)"),
            "",
            f"At {fmt(_get(i, 'post', 'rate'), 1)} req/s offered the API answered {fmt(post.get('achieved'), 1)} req/s with the worker working and "
            f"{fmt(idle.get('achieved'), 1)} req/s with it stopped; p99 {fmt(post['p99_ms'], 0)} ms vs {fmt(idle.get('p99_ms'), 0)} ms: {ratio:.2f} ×. "
            "A POST does no Prefect call (the outbox row commits with the case). The Prefect server and the worker already run "
            "behind the API (nice 10, their session's autogroup niced too, as `healthpass serve` starts them).",
            "",
            "Not a stable result either way: the run before this one (2026-12-06 21:30, the same API code) measured 2.09 × "
            "(68 vs 32 ms at 29.9 req/s), and here the p99 with the worker stopped is itself "
            f"{fmt(idle.get('p99_ms'), 0)} ms. A p99 of about 180 requests per repeat is close to their maximum, and this machine's "
            "load from other sessions moves it (load average in the notes). What the worker adds that remains is most likely the "
            "CPU of PostgreSQL's backends serving it at normal priority, and WAL flushes shared with its commits; not pinned down.",
            "",
        ]
    e = B.get("embedded") or {}
    if e.get("ratio") is not None:
        md += [
            "### The embedded default, end to end" + ("" if e["ratio"] >= 0.6 else " (unmet)"),
            "",
            f"`make run` (SQLite store, local Prefect server on SQLite) took {e['embedded']['n']} applications from {e['embedded']['clients']} clients to the issuer's queue at "
            f"{e['embedded']['per_s']:.2f}/s against {e['postgres']['per_s']:.2f}/s for the same `serve` on PostgreSQL: **{e['ratio']:.2f} ×** "
            f"(target 0.6 ×). CPU of serve's processes per application: {e['embedded']['cpu_ms_per_app']:.0f} vs {e['postgres']['cpu_ms_per_app']:.0f} ms.",
            "",
            "Before (2026-12-06, 0.77 against 1.48/s = 0.52 ×): the CPU per application was the same on both, so the SQLite side "
            "waited rather than computed. Its Prefect server's log held 73 `sqlite3.OperationalError: database is locked` for 60 "
            "applications: two write transactions collide on SQLite's single writer, the loser fails at once, the server answers 503, "
            "and Prefect's client retries after 2, 4, 8 s. Worker limits 1 to 8 and the cluster's recorder and persister batch "
            "sizes stayed within this machine's run-to-run noise (0.52-1.03/s). Worse, one run in a burst met five 503s in a row "
            "while the worker labelled it: Prefect's worker marked it Crashed, and its case never reached the queue (now requeued, "
            "`workers/housekeeping.py`).",
            "",
            "The change (`ops/prefect_server.py`): `serve` runs Prefect's own server app (`prefect.server.api.server.create_app`, "
            "what `prefect server start` runs) behind two ASGI middlewares when its database is SQLite: one mutating request "
            "(POST/PUT/PATCH/DELETE) at a time, so writes queue for milliseconds instead of colliding; and a 0.1-0.6 s "
            "`Retry-After` on a 503 that still happens (Prefect's services write beside the requests), which Prefect's client "
            "honours. In the first run with it, the server's log held no lock error for the 60 applications. On PostgreSQL nothing is installed: writers do not "
            "collide there, and a 503 means the database is away, where Prefect's own back-off is right.",
            "",
            "Then (2026-12-07): about one run in four still took ~90 s for the 60 (0.23 and 0.27 ×). A kept log of one showed a "
            "burst of 503s (the late-runs service marking the waiting runs Late beside the requests: its `INSERT INTO flow_run_state` "
            "failed with `database is locked`) spending the client's retries on `PATCH /flow_runs/{id}/labels`; Prefect's worker "
            "marked two runs Crashed before they ran, and the worker rescheduled them only a minute later. A first crash before "
            "running is now rescheduled on the worker's next check (`workers/housekeeping.py`; a run that crashed before still "
            "waits a minute between tries). Six runs after the change gave 2.29-2.61 applications/s, one of them with two such "
            "crashes rescheduled within 10 s.",
            "",
        ]
    c = B.get("capacity") or {}
    if c and not c.get("error"):
        md += _capacity(c)
    return md


def _capacity(c: dict) -> list[str]:
    from bench.capacity import KINDS

    table, per_app = c["table"], c["per_application_cpu_ms"]
    two, one = c["2 workers"], c["1 worker"]
    md = [
        f"### Capacity for {c['rate']:.0f} applications/s, and the model checked on the local cluster",
        "",
        f"`bench/capacity.py` starts `deploy/local-cluster` on this machine ({c['cores']} cores), posts {c['n']} standard applications "
        "from 8 clients through both healthpass APIs until every case is in the issuer's queue (intake), then approves them all "
        "through both APIs until every case is completed with its pass (decision), and reads the CPU of every process kind from "
        "/proc before and after each leg. With 2 workers, then with worker-2 stopped.",
        "",
        f"| process kind | CPU-ms per application (intake + decision) | cores for {c['rate']:.0f} applications/s at {c['utilisation']:.0%} |",
        "|---|---|---|",
        *[f"| {k} | {two['intake']['cpu_ms'][k]:.0f} + {two['decision']['cpu_ms'][k]:.0f} = {per_app[k]:.0f} | {table[k]:.1f} |" for k in KINDS],
        f"| all | {sum(per_app.values()):.0f} | **{sum(table.values()):.0f}** |",
        "",
        "What to scale when: the Prefect API processes and the workers are Python processes of one core each, so their cores "
        "above are that many processes (`prefect server start --no-services` replicas behind a balancer; `healthpass worker` "
        "anywhere); the services process is one per cluster (its recorder and persister batch sizes in `deploy/cluster.env`); "
        "PostgreSQL's share is the store and Prefect's database together.",
        "",
        "The model's check: applications/s this machine can do = min(cores / CPU of all kinds per application, for each kind: its "
        "processes / its CPU per application), with the costs measured with 2 workers predicting both runs.",
        "",
        "| workers | leg | predicted /s | measured /s | measured / predicted |",
        "|---|---|---|---|---|",
        *[f"| {w} | {leg} | {r[leg]['predicted_per_s']:.2f} | {r[leg]['per_s']:.2f} | {r[leg]['per_s'] / r[leg]['predicted_per_s']:.2f} |"
          for w, r in (("2", two), ("1", one)) for leg in ("intake", "decision")],
        "",
    ]
    # One worker alone: what it delivers, and how busy its core was meanwhile.
    per_worker = 1 / (1 / one["intake"]["per_s"] + 1 / one["decision"]["per_s"])
    busy = max(one[leg]["per_s"] * one[leg]["cpu_ms"]["worker"] / 1000 for leg in ("intake", "decision"))
    md += [
        "With 2 workers the machine's 2 cores are the bound and the model is within "
        f"{100 * (1 - min(two[leg]['per_s'] / two[leg]['predicted_per_s'] for leg in ('intake', 'decision'))):.0f} % of what was measured. "
        "With 1 worker the model still predicts the machine's bound, and the measurement falls short of it: a worker is not "
        f"bound by its CPU alone. Alone it delivered {per_worker:.2f} whole applications/s (both legs) with its core "
        f"{busy:.0%} busy: its event loop waits on Prefect round trips for the runs in flight (its limit, "
        "`HEALTHPASS_DISPATCHER_CONCURRENCY`, 8 in cluster.env), so a worker's capacity is its limit over a run's latency, not "
        f"a core. Plan workers from that measured rate rather than from the table: {c['rate']:.0f} / {per_worker:.2f} = "
        f"**{c['rate'] / per_worker:.0f} workers** at limit 8 (or fewer with a higher limit, to be measured), against "
        f"{table['worker']:.0f} from CPU at {c['utilisation']:.0%}. The other kinds were the machine-bound ones here; "
        "the Prefect API processes, services and their share of PostgreSQL are most of the cores, the price of the steps "
        "being Prefect task runs (see *Intake on Prefect workers*).",
        "",
    ]
    return md


def prefect_floor(intake: dict) -> dict | None:
    """What Prefect itself needs per run of the naive 3-task flow called in-process (its cheapest
    path: no deployment, no worker, no suspension), from the same run: the server's CPU net of what
    its background services spend while idle, PostgreSQL's and the caller's; and the most runs/s
    that leaves on 2 cores, as a ratio to the same steps without Prefect."""
    naive, base = intake.get("naive") or {}, intake.get("baseline_per_s")
    if not (naive.get("server_cpu_ms") and naive.get("per_s") and base):
        return None
    idle_ms = (naive.get("server_idle_cpu_ms_per_s") or 0.0) / naive["per_s"]  # idle services' CPU over one run's seconds
    server = max(naive["server_cpu_ms"] - idle_ms, 1.0)
    total = server + naive.get("pg_cpu_ms", 0.0) + naive["client_cpu_ms"]
    return {
        "server_ms": server, "idle_ms": idle_ms, "pg_ms": naive.get("pg_cpu_ms", 0.0), "client_ms": naive["client_cpu_ms"],
        "per_s": 2000 / total, "ratio": 2000 / total / base,
        "server_only_per_s": 2000 / server, "server_only_ratio": 2000 / server / base,
    }


def _floor_sentence(f: dict) -> str:
    return (
        f"Prefect's own floor, same run: the naive 3-task flow called in-process (no deployment, no worker, no suspension) costs the "
        f"Prefect server {f['server_ms']:.0f} CPU-ms per run net of its idle services ({f['idle_ms']:.0f} ms of a run's time), "
        f"its PostgreSQL {f['pg_ms']:.0f} and the caller {f['client_ms']:.0f}: on 2 cores at most {f['per_s']:.1f} runs/s = "
        f"**{f['ratio']:.2f} ×** the steps without Prefect, and {f['server_only_per_s']:.1f}/s = {f['server_only_ratio']:.2f} × "
        "if the server had both cores and nothing else ran"
    )


def _at_limit(by_limit: dict, limit) -> dict:
    """The intake figures at one worker limit, whether its keys are ints (this run) or strings (read back from results.json)."""
    return by_limit.get(limit) or by_limit.get(str(limit)) or {}


def write(doc: dict, path: Path) -> None:
    m = doc.get("machine", {})
    B = doc.get("benchmarks", {})
    raw = _get(B, "verify", "raw_per_s")
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m bench.run`); issue 7 sets the targets. Each figure is the median of 3 runs, each "
        "baseline measured in the same run. Raw results: `bench/results.json`.",
        "",
        "## Machine",
        "",
        f"- CPU: {m.get('cpu')} — {m.get('cores')} cores ({m.get('cores_usable')} usable), RAM {m.get('ram_gib')} GiB",
        f"- Python {m.get('python')}, Prefect {m.get('prefect')}, PostgreSQL {m.get('postgresql')}, FastAPI {m.get('fastapi')}, "
        f"uvicorn {m.get('uvicorn')}, SQLAlchemy {m.get('sqlalchemy')}, cryptography {m.get('cryptography')}; {m.get('os')}",
        f"- load generator: `wrk` {'at ' + m.get('wrk') if m.get('wrk') and m.get('wrk') != 'not installed' else 'not installed (Python generator used)'}",
        f"- commit {m.get('commit')}; last run {_get(doc, 'last_run', 'at')} ({_get(doc, 'last_run', 'selected')}, "
        f"{(_get(doc, 'last_run', 'seconds', default=0) or 0) / 60:.1f} min)",
        f"- load average when the run started: {', '.join(f'{x:.1f}' for x in m.get('loadavg_at_start', []))} — "
        "the machine is shared with other sessions' test runs; each row's notes give the load during it.",
    ]
    if raw:
        # Measured by the `verify` benchmark: a later `--only` run without it keeps the old figure, so say when.
        verified_at = (B.get("verify") or {}).get("measured_at", "?")
        lines.append(f"- calibration ({'this run' if 'verify' in (_get(doc, 'last_run', 'selected') or []) else 'the `verify` run of ' + str(verified_at)}): "
                     f"raw ES256 verify ran at {fmt(raw)}/s against ~{ES256_REFERENCE:,}/s measured on a quiet machine "
                     f"of this kind (ARCHITECTURE.md): about {raw / ES256_REFERENCE:.0%} of a quiet core.")
    lines += [
        "",
        "## Results",
        "",
        "| what | target | measured | baseline (same run) | met? | notes |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows(doc):
        lines.append("| " + " | ".join(x.replace("|", "\\|") for x in r) + " |")
    lines += ["", "When each was measured:", ""]
    for name in ("sla", "verify", "http", "sweep", "intake", "memory", "supervision", "trends"):
        b = B.get(name)
        lines.append(f"- `{name}`: {_when(b)}" + (f", {b.get('seconds')} s" if b and not b.get("error") else ""))
    w = B.get("sweep") or {}
    if w.get("plan"):
        lines += [
            "",
            "## SLA sweep: the plan",
            "",
            f"`EXPLAIN (ANALYZE, BUFFERS)` of the statement `sla_service.sweep` sends, with {w.get('plan_size', 0):,} open cases "
            f"({w.get('plan_size', 0) * 5:,} timers): an index range scan on `ix_slatimer_pending_due (pending, due_at)` (the rows come "
            "in due order; the incremental sort only breaks ties on `id`), each case reached by its primary key for the row lock, "
            "stopping at the batch limit — its cost follows the timers due, not the cases open.",
            "",
            "```",
            w["plan"],
            "```",
            "",
            "Per size (none due / 1k due, seconds): "
            + "; ".join(f"{int(k):,} open: {v['none_s'] * 1000:.2f} ms / {('%.2f s' % v['due_s']) if v.get('due_s') is not None else '—'} (insert {v['insert_s']} s)" for k, v in sorted(w.get("sizes", {}).items(), key=lambda kv: int(kv[0]))),
        ]
    sv = B.get("supervision") or {}
    if sv.get("plan"):
        lines += [
            "",
            "## Supervisor dashboard: the plans",
            "",
            f"`EXPLAIN (ANALYZE, BUFFERS)` of the statements the dashboard's summary (SLA-state counts per child region) and "
            f"first page of open work send, for the city supervisor of {sv.get('city')} with {sv.get('n', 0):,} cases "
            "(captured from SQLAlchemy, `cases/services/supervision.py`):",
            "",
            "```",
            sv["plan"],
            "```",
        ]
    t = B.get("trends") or {}
    if t.get("explain_read"):
        lines += [
            "",
            "## Trends: the plans",
            "",
            f"`EXPLAIN (ANALYZE, BUFFERS)` with {t['n']:,} decided cases in one city: the request reads one region's days by the "
            "primary key of `trend_daily (region_code, day)` and the children's days; the daily roll-up reads one local day of "
            "decisions through `ix_trends_application_decided_at`. The time of a request is spent in Python (histogram merge, "
            "pydantic, JSON), not in the queries.",
            "",
            "```",
            t["explain_read"],
            "",
            t.get("explain_children", ""),
            "",
            t.get("explain_rollup_decisions", ""),
            "```",
        ]
    V = _get(B, "http", "variants")
    if V:
        v = B.get("verify") or {}
        lines += [
            "",
            "## Checkpoint verify over HTTP: where the time goes",
            "",
            f"1 uvicorn worker, QR body, {_get(B, 'http', 'generator')}; the shipped app against the sync route it replaced and the bare constant endpoint "
            "(`bench/variants.py`, `bench/bare_app.py`); CPU-ms per request of the server process:",
            "",
            "| variant | req/s | server CPU-ms / request |",
            "|---|---|---|",
            *[f"| {name} | {fmt(x['rps'])} | {x['cpu_ms_per_req']:.2f} |" for name, x in V.items()],
            "",
            "The shipped route is `async def` with no `Session` dependency: a QR is decided in the event loop from the cached keys and "
            "revocation set (`checkpoint.decide_cached`); only a stale cache (every 5 s, or after a revocation through the API) or a "
            "typed-in card number goes to the threadpool with its own session. The sync route paid two thread hops (the endpoint, then "
            "FastAPI's response validation) and a Session per request."
            + (f" Of the {V['as shipped']['cpu_ms_per_req'] - V['bare constant']['cpu_ms_per_req']:.2f} ms between it and the bare endpoint, "
               f"most is that decision (in process {1000 / v['store_qr_per_s']:.2f} ms, `checkpoint.verify`, {fmt(v['store_qr_per_s'])}/s, the "
               "ES256 signature check); the rest is FastAPI's routing through the app's included routers (the bare app has three routes), "
               "the request guards and the response model." if v.get("store_qr_per_s") and "as shipped" in V and "bare constant" in V else ""),
        ]
    limits = _limits(doc)
    lines += ["", "## What limits it", ""]
    lines += APPLIED + [""]
    lines += limits or ["Every target was met in this run."]
    lines += [
        "",
        "## How to reproduce",
        "",
        "```",
        "make bench                                   # everything (~30-40 min), writes BENCHMARKS.md + bench/results.json",
        ".venv/bin/python -m bench.run --only sweep   # one benchmark: sla, verify, http, sweep, intake, memory, supervision, trends, embedded, capacity",
        ".venv/bin/python -m bench.run --full         # adds the 1M-open-case sweep (~2-5 min of inserts)",
        ".venv/bin/python -m bench.run --quick        # tiny sizes, checks the machinery, writes no report",
        "```",
        "",
        "Needs PostgreSQL at `HEALTHPASS_TEST_POSTGRES_URL` (default `postgresql://postgres@127.0.0.1:5432/postgres`; each benchmark "
        "creates and drops its own databases) and, for the HTTP throughput, `wrk` (`apt-get install -y wrk`; without it a Python "
        "generator runs, said in the table). The profiles need `py-spy` in the venv (`.venv/bin/pip install py-spy`); without it "
        "that section is skipped. Everything binds to 127.0.0.1 on free ports.",
        "",
        "Method: throughput is closed-loop (wrk or `bench/loadgen.py`); latency at a fixed rate is open-loop with each request timed "
        "from when it was due (`bench/loadgen.py`), so a stalled server counts. Intake drives the real healthpass Prefect worker "
        "(`workers.inprocess.HealthpassWorker`, its outbox drained by `workers.housekeeping.Housekeeper`) in its own process "
        "(`bench/_worker_proc.py`), and a naive 3-task flow (`bench/_naive_flow.py`) for comparison, against `prefect server start` on its own PostgreSQL database. The simulator "
        "(`cases/simulate.py`, `healthpass simulate`) drives a running system the same way through the public API.",
        "",
    ]
    path.write_text("\n".join(lines))
