"""A province in miniature: drives a running healthpass through its public API only.

``simulate(base_url=..., applications=N, rate=R)`` plays, against a running system
(API + worker + Prefect, e.g. ``healthpass serve``):

- applicants: arrivals and standard applications spread over the 16 cities and their
  communities (taken from ``GET /api/v1/directory``), POSTed at ``rate`` per second
  (open loop: a slow answer does not slow the arrivals down);
- issuers: the demo account ``issuer-<community code>`` of each community signs in,
  reads its queue and decides each case that reaches it (approve, or reject on a
  comparison hit) — except a share ``issuers_late_share`` of the cases, which it leaves
  undecided (late: the SLA sweep escalates them);
- applicants in observation (arrivals) send their daily report, when the API has it;
- checkpoints: every pass issued (yellow for arrivals at once, green after approval)
  is scanned, by QR text or by the paper card number, mostly at normal temperature.

It returns a summary dict (also printed as a table when ``progress`` is on). Person
numbers (GB 11643 resident IDs with a valid check character, mobiles) are fresh on
each call, so a second run against the same store makes new applicants.
The CLI ``healthpass simulate`` is a thin wrapper over ``simulate``.
"""
from __future__ import annotations

import asyncio
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx

from cases.clock import SHANGHAI, now
from cases.declaration_schema import make_examples
from cases.validation import resident_id_check_char

DEMO_PASSWORD = "demo-pass-2026"
ARRIVAL_SHARE = 0.3  # of all applications
CHANNELS = (("wechat", 0.45), ("app", 0.45), ("counter", 0.10))
FEVER_SHARE = 0.05  # of checkpoint scans
SCANS_PER_PASS = 2
QR_SHARE = 0.5  # scans by QR text (else by the paper card number)
ISSUER_POLL_SECONDS = 1.0
CASE_POLL_SECONDS = 1.5
SETTLE_SECONDS = 30.0  # stop this long after the last progress once all arrivals are in
ABROAD = ("GBR", "USA", "JPN", "KOR", "DEU", "FRA", "AUS", "SGP")
DOMESTIC = ("110105", "310115", "440106", "320102", "330106")  # Beijing, Shanghai, Guangzhou, Nanjing, Hangzhou
REJECT_REASONS = {"confirmed": "comparison_confirmed", "close_contact": "comparison_close_contact"}
_QR_TEXT = re.compile(r"SDHP1:[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+")
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"


# --------------------------------------------------------------- persons ---

def resident_id(seq: int, *, county: str) -> str:
    """A valid GB 11643 resident ID for person number ``seq`` (unique below 18 million per county)."""
    born = date(1950, 1, 1) + timedelta(days=(seq // 1000) % 18_000)
    body17 = f"{county[:6]}{born:%Y%m%d}{seq % 1000:03d}"
    return body17 + resident_id_check_char(body17)


def mobile(seq: int) -> str:
    return f"13{seq // 100_000_000 % 10}{seq % 100_000_000:08d}"


def application_body(seq: int, *, today: date, kind: str = "standard", community: str | None = None, county: str | None = None, channel: str | None = None, rng: random.Random | None = None) -> dict:
    """A valid application body for a distinct person ``seq``, based on the published examples."""
    body = dict(make_examples(today)[kind]["value"])
    if community:
        body["community_code"] = community
        if kind == "arrival" and body.get("unit_code") and not body["unit_code"].startswith("U" + community[:6]):
            body["unit_code"] = None  # the example's unit is in Jinan
    county = county or body["community_code"][:6]
    body["id_number"] = resident_id(seq, county=county)
    body["phone"] = mobile(seq)
    if channel:
        body["channel"] = channel
    if rng is not None:
        body["name"] = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
        d = lambda days: (today - timedelta(days=days)).isoformat()  # noqa: E731
        if kind == "arrival":
            origin = rng.choice(ABROAD + DOMESTIC)
            body["residence_history"] = [
                {"place": origin, "from_date": d(20), "to_date": d(1)},
                {"place": county, "from_date": d(1), "to_date": d(0)},
            ]
            body["arrival_date"] = d(1)
        else:
            body["residence_history"] = [{"place": county, "from_date": d(30), "to_date": d(0)}]
    return body


# ------------------------------------------------------------- the run ---

@dataclass
class _Case:
    id: str
    token: str
    kind: str
    community: str
    city: str
    late: bool
    status: str = "submitted"
    decided: str | None = None
    reported: bool = False
    passes: dict = field(default_factory=dict)  # pass id -> {"colour", "card_number", "scanned"}


@dataclass
class _Stats:
    latency: dict = field(default_factory=lambda: {"post": [], "verify": [], "decision": []})
    http_errors: Counter = field(default_factory=Counter)
    submitted: Counter = field(default_factory=Counter)
    by_city: Counter = field(default_factory=Counter)
    duplicates: int = 0
    rejected_422: int = 0
    reached_queue: int = 0
    decisions: Counter = field(default_factory=Counter)
    left_late: int = 0
    passes: Counter = field(default_factory=Counter)
    reports: Counter = field(default_factory=Counter)
    scans: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)
    unexpected: int = 0
    last_progress: float = 0.0


def _weighted(rng: random.Random, options) -> str:
    x, acc = rng.random(), 0.0
    for value, weight in options:
        acc += weight
        if x < acc:
            return value
    return options[-1][0]


def _pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    xs = sorted(values)
    return round(xs[min(len(xs) - 1, max(0, int(round(p / 100 * len(xs) + 0.5)) - 1))], 1)


class _Province:
    def __init__(self, client: httpx.AsyncClient, *, applications: int, rate: float, late_share: float, seed: int, progress):
        self.client, self.n, self.rate, self.late_share = client, applications, rate, late_share
        self.rng = random.Random(seed)
        # Fresh persons on every call; the seed fixes every other choice.
        self.person_base = random.Random(time.time_ns()).randrange(0, 17_000_000 - applications - 1)
        self.cases: dict[str, _Case] = {}
        self.stats = _Stats()
        self.progress = progress
        self.issuer_tokens: dict[str, str] = {}
        self.checkpoint_auth: dict[str, str] | None = None  # a typed card number needs the checkpoint sign-in
        self.arrivals_done = False
        self.has_reports = False

    # -------------------------------------------------------------- http ---
    async def call(self, method: str, url: str, kind: str | None = None, **kw) -> httpx.Response | None:
        t0 = time.perf_counter()
        try:
            r = await self.client.request(method, url, **kw)
        except httpx.HTTPError as exc:
            self.stats.http_errors[f"{method} {url.split('?')[0][:40]}: {type(exc).__name__}"] += 1
            return None
        if kind:
            self.stats.latency[kind].append((time.perf_counter() - t0) * 1000)
        if r.status_code >= 500:
            self.stats.http_errors[f"{method} {kind or url[:40]}: HTTP {r.status_code}"] += 1
        return r

    def touched(self) -> None:
        self.stats.last_progress = time.monotonic()

    # ------------------------------------------------------------ setup ---
    async def load_directory(self) -> None:
        r = await self.client.get("/api/v1/directory")
        r.raise_for_status()
        cities: dict[str, list[tuple[str, str]]] = {}
        for county in r.json()["counties"]:
            for community in county["communities"]:
                cities.setdefault(county["city"]["name_en"], []).append((community["code"], county["county"]["code"]))
        if not cities:
            raise RuntimeError("the directory lists no communities: is the store seeded (healthpass seed)?")
        self.cities = cities
        try:
            spec = (await self.client.get("/openapi.json")).json()
            self.has_reports = "/api/v1/applications/{case_id}/reports" in spec.get("paths", {})
        except (httpx.HTTPError, ValueError):
            self.has_reports = False

    # ------------------------------------------------------- applicants ---
    async def arrivals(self, task_id) -> None:
        start = time.monotonic()
        today = now().astimezone(SHANGHAI).date()
        pending: set[asyncio.Task] = set()
        for i in range(self.n):
            delay = start + i / self.rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            kind = "arrival" if self.rng.random() < ARRIVAL_SHARE else "standard"
            city = self.rng.choice(sorted(self.cities))
            community, county = self.rng.choice(self.cities[city])
            channel = _weighted(self.rng, CHANNELS)
            late = kind == "standard" and self.rng.random() < self.late_share
            body = application_body(self.person_base + i, today=today, kind=kind, community=community, county=county, channel=channel, rng=self.rng)
            t = asyncio.create_task(self.submit(body, city=city, late=late, task_id=task_id))
            pending.add(t)
            t.add_done_callback(pending.discard)
        if pending:
            await asyncio.gather(*pending)
        self.arrivals_done = True
        self.touched()

    async def submit(self, body: dict, *, city: str, late: bool, task_id) -> None:
        r = await self.call("POST", "/api/v1/applications", "post", json=body)
        if self.progress:
            self.progress.advance(task_id)
        if r is None:
            return
        if r.status_code == 422:
            self.stats.rejected_422 += 1
            return
        if r.status_code == 200:
            self.stats.duplicates += 1
            return
        if r.status_code != 201:
            self.stats.http_errors[f"POST applications: HTTP {r.status_code}"] += 1
            return
        data = r.json()
        case = _Case(id=data["id"], token=data["access_token"], kind=body["kind"], community=body["community_code"], city=city, late=late, status=data["status"])
        self.cases[case.id] = case
        self.stats.submitted[case.kind] += 1
        self.stats.by_city[city] += 1
        if data.get("pass"):
            self.note_pass(case, data["pass"])
        self.touched()

    def note_pass(self, case: _Case, p: dict) -> None:
        if p["id"] not in case.passes:
            case.passes[p["id"]] = {"colour": p["colour"], "card_number": p["card_number"], "scanned": 0}
            self.stats.passes[p["colour"]] += 1
            self.touched()

    # ---------------------------------------------------------- issuers ---
    async def issuer_token(self, community: str) -> str | None:
        if community in self.issuer_tokens:
            return self.issuer_tokens[community]
        r = await self.call("POST", "/api/v1/auth/token", data={"username": f"issuer-{community}", "password": DEMO_PASSWORD})
        if r is None or r.status_code != 200:
            self.stats.http_errors[f"login issuer-{community}: {getattr(r, 'status_code', 'no answer')}"] += 1
            self.issuer_tokens[community] = None  # type: ignore[assignment]
            return None
        token = r.json()["access_token"]
        self.issuer_tokens[community] = token
        await self.call("POST", "/api/v1/issuers/sign-in", headers={"Authorization": f"Bearer {token}"})  # R18
        return token

    async def issuers(self, task_id) -> None:
        seen_tasks: set[str] = set()
        while not self.finished():
            communities = sorted({c.community for c in self.cases.values() if c.kind == "standard" and c.decided is None})
            for community in communities:
                token = await self.issuer_token(community)
                if not token:
                    continue
                auth = {"Authorization": f"Bearer {token}"}
                r = await self.call("GET", "/api/v1/audit-tasks", headers=auth)
                if r is None or r.status_code != 200:
                    continue
                for task in r.json():
                    case = self.cases.get(task["application_id"])
                    if case is None or case.decided is not None:
                        continue  # not ours (an earlier run or a real case): leave it alone
                    if task["task_id"] not in seen_tasks:
                        seen_tasks.add(task["task_id"])
                        self.stats.reached_queue += 1
                        self.touched()
                    if case.late:
                        case.decided = "late"
                        self.stats.left_late += 1
                        if self.progress:
                            self.progress.advance(task_id)
                        continue
                    await self.decide(case, task, auth, task_id)
            await asyncio.sleep(ISSUER_POLL_SECONDS)

    async def decide(self, case: _Case, task: dict, auth: dict, task_id) -> None:
        await self.call("POST", f"/api/v1/audit-tasks/{task['task_id']}/claim", headers=auth)
        outcome = (task.get("comparison") or {}).get("outcome")
        if outcome in REJECT_REASONS:
            body = {"action": "reject", "reason_code": REJECT_REASONS[outcome], "explanation": f"The comparison lists the applicant as {outcome.replace('_', ' ')}, so the pass cannot be green."}
        else:
            body = {"action": "approve"}
        r = await self.call("POST", f"/api/v1/audit-tasks/{task['task_id']}/decision", "decision", json=body, headers=auth)
        if r is not None and r.status_code == 200:
            case.decided = body["action"]
            self.stats.decisions[body["action"]] += 1
            if self.progress:
                self.progress.advance(task_id)
            self.touched()
        elif r is not None:
            self.stats.http_errors[f"decision: HTTP {r.status_code}"] += 1
            case.decided = "error"

    # ----------------------------------------------- cases and reports ---
    async def watch_cases(self) -> None:
        """Follow each case as its applicant would: status, the pass, the daily report."""
        while not self.finished():
            for case in list(self.cases.values()):
                wants_pass = case.decided in ("approve", "reject") and case.status != "completed"
                wants_report = self.has_reports and case.kind == "arrival" and not case.reported
                if not (wants_pass or wants_report):
                    continue  # standard cases reach the issuers through their queues, not by polling
                r = await self.call("GET", f"/api/v1/applications/{case.id}", params={"access_token": case.token})
                if r is None or r.status_code != 200:
                    continue
                view = r.json()
                if view["status"] != case.status:
                    case.status = view["status"]
                    self.touched()
                if view.get("pass"):
                    self.note_pass(case, view["pass"])
                if wants_report and case.status == "observing":
                    await self.daily_report(case)
            await asyncio.sleep(CASE_POLL_SECONDS)

    async def daily_report(self, case: _Case) -> None:
        fever = self.rng.random() < FEVER_SHARE
        body = {"temperature": round(self.rng.uniform(37.4, 38.4) if fever else self.rng.uniform(36.0, 37.0), 1), "symptoms": [], "location_confirmed": True}
        r = await self.call("POST", f"/api/v1/applications/{case.id}/reports", json=body, headers={"X-Access-Token": case.token})
        case.reported = True
        self.stats.reports["sent"] += 1
        if r is not None:
            self.stats.reports[f"HTTP {r.status_code}"] += 1
        self.touched()

    # ------------------------------------------------------- checkpoints ---
    async def checkpoints(self, task_id) -> None:
        while not self.finished():
            todo = [(c, pid, p) for c in list(self.cases.values()) for pid, p in c.passes.items() if p["scanned"] < SCANS_PER_PASS]
            for case, pass_id, p in todo:
                await self.scan(case, pass_id, p, task_id)
            await asyncio.sleep(0.5)

    async def checkpoint_headers(self) -> dict[str, str]:
        if self.checkpoint_auth is None:
            r = await self.call("POST", "/api/v1/auth/token", data={"username": "checkpoint", "password": DEMO_PASSWORD})
            if r is None or r.status_code != 200:
                self.stats.http_errors[f"login checkpoint: {getattr(r, 'status_code', 'no answer')}"] += 1
                return {}
            self.checkpoint_auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
        return self.checkpoint_auth

    async def scan(self, case: _Case, pass_id: str, p: dict, task_id) -> None:
        fever = self.rng.random() < FEVER_SHARE
        temperature = round(self.rng.uniform(37.4, 38.6) if fever else self.rng.uniform(35.9, 37.1), 1)
        body: dict[str, Any] = {"temperature": temperature}
        if self.rng.random() < QR_SHARE:
            qr = p.get("qr") or await self.qr_text(case, pass_id)
            if qr:
                p["qr"] = qr
                body["qr"] = qr
        headers = {}
        if "qr" not in body:
            body["card_number"] = p["card_number"]
            headers = await self.checkpoint_headers()
        p["scanned"] += 1
        r = await self.call("POST", "/api/v1/checkpoint/verify", "verify", json=body, headers=headers)
        if self.progress:
            self.progress.advance(task_id)
        if r is None or r.status_code != 200:
            self.stats.scans["error"] += 1
            return
        d = r.json()
        self.stats.scans[d["result"]] += 1
        self.stats.scans["by_qr" if "qr" in body else "by_card_number"] += 1
        for reason in d["reasons"]:
            self.stats.reasons[reason] += 1
        # A pass superseded meanwhile (yellow -> green) is rightly revoked; anything else is a surprise.
        expected = "PASS" if p["colour"] == "green" and not fever else "DENY"
        if d["result"] != expected and "revoked" not in d["reasons"]:
            self.stats.unexpected += 1
        self.touched()

    async def qr_text(self, case: _Case, pass_id: str) -> str | None:
        r = await self.call("GET", f"/api/v1/passes/{pass_id}/card", params={"access_token": case.token})
        if r is None or r.status_code != 200:
            return None
        m = _QR_TEXT.search(r.text)
        return m.group(0) if m else None

    # ------------------------------------------------------------- end ---
    def outstanding(self) -> bool:
        for c in self.cases.values():
            if c.kind == "standard" and c.decided is None:
                return True
            if c.decided in ("approve",) and not any(p["colour"] == "green" for p in c.passes.values()):
                return True
            if any(p["scanned"] < SCANS_PER_PASS for p in c.passes.values()):
                return True
            if self.has_reports and c.kind == "arrival" and not c.reported:
                return True
        return False

    def finished(self) -> bool:
        if not self.arrivals_done:
            return False
        if not self.outstanding():
            return True
        return time.monotonic() - self.stats.last_progress > SETTLE_SECONDS

    def summary(self, elapsed: float, base_url: str, seed: int) -> dict[str, Any]:
        s = self.stats
        standard = [c for c in self.cases.values() if c.kind == "standard"]
        arrivals = [c for c in self.cases.values() if c.kind == "arrival"]
        accepted = len(self.cases)
        return {
            "base_url": base_url,
            "seed": seed,
            "elapsed_s": round(elapsed, 1),
            "applications": {
                "requested": self.n,
                "offered_rate_per_s": self.rate,
                "accepted": accepted,
                "by_kind": dict(s.submitted),
                "by_city": dict(sorted(s.by_city.items())),
                "duplicates": s.duplicates,
                "invalid_422": s.rejected_422,
                "post_latency_ms": {"p50": _pct(s.latency["post"], 50), "p99": _pct(s.latency["post"], 99), "max": _pct(s.latency["post"], 100)},
            },
            "audit": {
                "reached_queue": s.reached_queue,
                "approved": s.decisions.get("approve", 0),
                "rejected": s.decisions.get("reject", 0),
                "left_late": s.left_late,
                "not_reached_queue": sum(1 for c in standard if c.decided is None),
                "completed": sum(1 for c in standard if c.status == "completed"),
            },
            "observation": {
                "arrivals_observing": sum(1 for c in arrivals if c.status == "observing"),
                "daily_reports": dict(s.reports) if self.has_reports else "endpoint not in this API",
            },
            "passes": dict(s.passes),
            "checkpoint": {
                "scans": s.scans.get("PASS", 0) + s.scans.get("DENY", 0),
                "PASS": s.scans.get("PASS", 0),
                "DENY": s.scans.get("DENY", 0),
                "by_qr": s.scans.get("by_qr", 0),
                "by_card_number": s.scans.get("by_card_number", 0),
                "reasons": dict(s.reasons),
                "unexpected": s.unexpected,
                "latency_ms": {"p50": _pct(s.latency["verify"], 50), "p99": _pct(s.latency["verify"], 99)},
            },
            "http_errors": dict(s.http_errors),
        }


async def _simulate(*, base_url: str, applications: int, rate: float, issuers_late_share: float, seed: int, progress: bool) -> dict:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=30, limits=limits) as client:
        bar = None
        if progress:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            bar = Progress(TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        province = _Province(client, applications=applications, rate=rate, late_share=issuers_late_share, seed=seed, progress=bar)
        await province.load_directory()
        t0 = time.monotonic()
        province.touched()

        async def body() -> None:
            apps = bar.add_task("applications", total=applications) if bar else None
            decisions = bar.add_task("audits (decided/late)", total=None) if bar else None
            scans = bar.add_task("checkpoint scans", total=None) if bar else None
            await asyncio.gather(
                province.arrivals(apps),
                province.issuers(decisions),
                province.watch_cases(),
                province.checkpoints(scans),
            )

        if bar:
            with bar:
                await body()
        else:
            await body()
        result = province.summary(time.monotonic() - t0, base_url, seed)
    if progress:
        _print_summary(result)
    return result


def _print_summary(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"healthpass simulation ({result['elapsed_s']} s, seed {result['seed']})", show_header=True)
    table.add_column("what")
    table.add_column("value", overflow="fold")
    a, au, cp = result["applications"], result["audit"], result["checkpoint"]
    rows = [
        ("applications accepted", f"{a['accepted']} of {a['requested']} ({a['by_kind']}); duplicates {a['duplicates']}, invalid {a['invalid_422']}"),
        ("POST latency p50 / p99", f"{a['post_latency_ms']['p50']} / {a['post_latency_ms']['p99']} ms at {a['offered_rate_per_s']}/s offered"),
        ("cities", ", ".join(f"{k} {v}" for k, v in a["by_city"].items())),
        ("reached the audit queue", str(au["reached_queue"])),
        ("decided on time", f"approved {au['approved']}, rejected {au['rejected']}"),
        ("left late (undecided)", str(au["left_late"])),
        ("not in a queue yet", str(au["not_reached_queue"])),
        ("completed with a pass", str(au["completed"])),
        ("arrivals in observation", f"{result['observation']['arrivals_observing']}; daily reports {result['observation']['daily_reports']}"),
        ("passes seen", str(result["passes"])),
        ("checkpoint scans", f"{cp['scans']}: PASS {cp['PASS']}, DENY {cp['DENY']} {cp['reasons']}; unexpected {cp['unexpected']}"),
        ("verify latency p50 / p99", f"{cp['latency_ms']['p50']} / {cp['latency_ms']['p99']} ms"),
        ("HTTP errors", str(result["http_errors"] or "none")),
    ]
    for k, v in rows:
        table.add_row(k, v)
    Console().print(table)


def simulate(*, base_url: str, applications: int, rate: float, issuers_late_share: float = 0.0, seed: int = 1, progress: bool = True) -> dict:
    """Drive the running system at ``base_url`` like a province; returns the summary dict."""
    if applications < 0 or rate <= 0:
        raise ValueError("applications must be >= 0 and rate > 0")
    if not 0.0 <= issuers_late_share <= 1.0:
        raise ValueError("issuers_late_share is a share between 0 and 1")
    return asyncio.run(_simulate(base_url=base_url, applications=applications, rate=rate, issuers_late_share=issuers_late_share, seed=seed, progress=progress))
