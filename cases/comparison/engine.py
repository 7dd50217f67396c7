"""The comparison engine: declaration vs. sources -> one outcome (R14 step 2, R15).

``compare(declaration=..., sources=..., now=...)`` queries every source and
returns a ``ComparisonResult``.

Window
    14 calendar days including the comparison date (Asia/Shanghai date of
    ``now``): ``today - 13`` .. ``today`` -- the same window as the declaration.

Rules (each hit names source, source version, record key and the reason)
    * ``confirmed``     -- the ID is on the confirmed or suspected registry.
    * ``close_contact`` -- the ID is on the close-contact registry.
    * ``risk_area``     -- a stay, declared or seen in roaming records, inside a
      *high*-risk area (containment either way: a listed city covers its
      districts, a listed district flags a stay declared for its whole city)
      while the area was listed; the stay is first clipped to the window.
    * ``mismatch``      -- possible false declaration (R15):
        - a roaming record of >= 4 h inside the window in a city that no
          declared stay covers at about that time (dates compared with one
          day of tolerance for the itinerary card's lag);
        - a border entry inside the window while no stay abroad is declared.
      Roaming records that ended before the window (e.g. 15 days ago) are
      ignored.
    * ``declared_ill``  -- the declaration itself states a fever (temperature
      at or above ``fever_threshold``, 37.3 °C by default, R4) or any symptom
      (hit kinds ``declared_fever`` / ``declared_symptoms``, source
      ``declaration``, the declared values in ``evidence``). Nothing to look
      up: the issuer must see it, and it withholds the automatic green (R12).
    The home county (first 6 digits of the community code) counts as declared:
    for the whole window (standard) or from ``arrival_date`` (arrival).

Outcome
    Most severe hit wins: confirmed > close_contact > risk_area >
    declared_ill > mismatch > clear.  If any source is stale (``now - fresh_as_of > max_age``),
    unavailable (``SourceUnavailable`` or any other error, or a malformed
    record), or no source is configured, the outcome is ``incomplete`` --
    never a silent clear -- unless a red-list hit (confirmed / close_contact)
    was found, which stands: missing data cannot make it better.
    ``complete`` tells whether every source answered fresh.
    ``red_list`` is True for confirmed / close_contact and for a declared fever
    or symptom: such a case is never auto-issued green, it escalates (R12).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from cases.comparison.base import (
    ComparisonSource,
    Record,
    SourceUnavailable,
    as_date,
    city_prefix,
    region_prefix,
    regions_overlap,
)
from cases.validation import SHANGHAI, hash_id_number, hash_phone

__all__ = [
    "OUTCOMES",
    "SEVERITY",
    "WINDOW_DAYS",
    "FEVER_THRESHOLD",
    "AUTO_ISSUE_WITHHELD_OUTCOMES",
    "ROAMING_MIN_HOURS",
    "DeclaredStay",
    "DeclarationFacts",
    "Hit",
    "SourceStatus",
    "ComparisonResult",
    "compare",
    "window_for",
]

WINDOW_DAYS = 14
ROAMING_MIN_HOURS = 4.0
ROAMING_TOLERANCE = timedelta(days=1)

FEVER_THRESHOLD = 37.3  # °C, as at the checkpoint (R4); services pass the configured one

OUTCOMES: tuple[str, ...] = ("clear", "mismatch", "declared_ill", "risk_area", "close_contact", "confirmed", "incomplete")
SEVERITY: dict[str, int] = {"clear": 0, "mismatch": 1, "declared_ill": 2, "risk_area": 3, "close_contact": 4, "confirmed": 5}
RED_LIST_OUTCOMES = frozenset({"close_contact", "confirmed"})
# Hits that keep a case from the automatic green pass (R12): the red lists and a declared
# fever or symptom. A hit of these sets ``red_list`` on the result.
AUTO_ISSUE_WITHHELD_OUTCOMES = RED_LIST_OUTCOMES | {"declared_ill"}
DECLARATION_SOURCE = "declaration"


def window_for(today: date) -> tuple[date, date]:
    return today - timedelta(days=WINDOW_DAYS - 1), today


# --------------------------------------------------------------------------- #
# input
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class DeclaredStay:
    place: str
    from_date: date
    to_date: date


@dataclass(frozen=True)
class DeclarationFacts:
    """What the engine needs of a declaration: hashes and declared stays.

    ``home``: 6-digit county (or 12-digit community) code of residence, counted
    as declared from ``home_from`` (None = the whole window) to the end.
    ``temperature`` / ``symptoms``: the declared health status (R6).
    """

    id_hash: str
    phone_hash: str
    stays: tuple[DeclaredStay, ...] = ()
    home: str | None = None
    home_from: date | None = None
    temperature: float | None = None
    symptoms: tuple[str, ...] = ()

    @classmethod
    def from_application(cls, app: Any, *, hash_key: bytes) -> DeclarationFacts:
        """Build from a validated ``ApplicationCreate`` (hashing ID and phone with ``hash_key``)."""
        kind = getattr(getattr(app, "kind", None), "value", getattr(app, "kind", None))
        return cls(
            id_hash=hash_id_number(app.id_number, key=hash_key),
            phone_hash=hash_phone(app.phone, key=hash_key),
            stays=tuple(DeclaredStay(s.place, s.from_date, s.to_date) for s in app.residence_history),
            home=app.community_code[:6] if getattr(app, "community_code", None) else None,
            home_from=app.arrival_date if kind == "arrival" else None,
            temperature=getattr(getattr(app, "health", None), "temperature", None),
            symptoms=tuple(getattr(getattr(app, "health", None), "symptoms", None) or ()),
        )


def _facts(declaration: Any) -> DeclarationFacts:
    if isinstance(declaration, DeclarationFacts):
        return declaration
    stays_src = getattr(declaration, "stays", None)
    if stays_src is None:
        stays_src = getattr(declaration, "residence_history", ())
    stays = tuple(
        DeclaredStay(
            getattr(s, "place", None) or s["place"],
            as_date(getattr(s, "from_date", None) or s["from_date"]),
            as_date(getattr(s, "to_date", None) or s["to_date"]),
        )
        for s in stays_src
    )
    home = getattr(declaration, "home", None)
    return DeclarationFacts(
        id_hash=declaration.id_hash,
        phone_hash=declaration.phone_hash,
        stays=stays,
        home=home,
        home_from=getattr(declaration, "home_from", None),
        temperature=getattr(declaration, "temperature", None),
        symptoms=tuple(getattr(declaration, "symptoms", None) or ()),
    )


# --------------------------------------------------------------------------- #
# output
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class Hit:
    source: str
    source_version: str
    record_key: str
    kind: str
    outcome: str
    explanation: str
    evidence: dict[str, Any] | None = None  # what was declared, for flags of the declaration itself

    def to_dict(self) -> dict[str, Any]:
        out = {
            "source": self.source,
            "source_version": self.source_version,
            "record_key": self.record_key,
            "kind": self.kind,
            "outcome": self.outcome,
            "explanation": self.explanation,
        }
        if self.evidence is not None:
            out["evidence"] = dict(self.evidence)
        return out


@dataclass
class SourceStatus:
    name: str
    version: str
    fresh_as_of: datetime | None
    status: str  # ok | stale | unavailable
    detail: str | None = None
    records: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "fresh_as_of": self.fresh_as_of.isoformat() if self.fresh_as_of else None,
            "status": self.status,
            "detail": self.detail,
            "records": self.records,
        }


@dataclass
class ComparisonResult:
    outcome: str
    hits: list[Hit]
    sources: list[SourceStatus]
    red_list: bool
    complete: bool
    window_start: date
    window_end: date
    compared_at: datetime
    worst_hit: str = "clear"
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe; contains no hashes and no raw personal data."""
        return {
            "outcome": self.outcome,
            "worst_hit": self.worst_hit,
            "red_list": self.red_list,
            "complete": self.complete,
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "compared_at": self.compared_at.isoformat(),
            "hits": [h.to_dict() for h in self.hits],
            "sources": [s.to_dict() for s in self.sources],
            "notes": list(self.notes),
        }


# --------------------------------------------------------------------------- #
# engine
# --------------------------------------------------------------------------- #


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=timezone.utc)


def _clip(lo: date, hi: date, start: date, end: date) -> tuple[date, date] | None:
    a, b = max(lo, start), min(hi, end)
    return (a, b) if a <= b else None


def _overlap(a_lo: date | None, a_hi: date | None, b_lo: date, b_hi: date) -> bool:
    return (a_lo or date.min) <= b_hi and b_lo <= (a_hi or date.max)


def _same_city(a: str, b: str) -> bool:
    ca, cb = city_prefix(a), city_prefix(b)
    if not ca.isdigit() or not cb.isdigit():
        return ca == cb
    return ca.startswith(cb) or cb.startswith(ca)


class _MalformedRecord(Exception):
    pass


def _query(
    src: ComparisonSource, status: SourceStatus, facts: DeclarationFacts,
    start: date, end: date, places: list[str],
) -> list[Record]:
    try:
        recs = src.lookup(
            id_hash=facts.id_hash, phone_hash=facts.phone_hash,
            window_start=start, window_end=end, places=list(places),
        )
        return list(recs or [])
    except SourceUnavailable as exc:
        status.status = "unavailable"
        status.detail = str(exc) or "source unavailable"
    except Exception as exc:  # a broken source must never produce a silent clear
        status.status = "unavailable"
        status.detail = f"lookup failed: {type(exc).__name__}: {exc}"
    return []


def compare(
    *,
    declaration: Any,
    sources: Sequence[ComparisonSource],
    now: datetime,
    fever_threshold: float = FEVER_THRESHOLD,
) -> ComparisonResult:
    """Compare one declaration against all sources; see the module docstring."""
    if now.tzinfo is None:
        raise ValueError("now must be a timezone-aware datetime")
    facts = _facts(declaration)
    today = now.astimezone(SHANGHAI).date()
    start, end = window_for(today)

    declared: list[DeclaredStay] = list(facts.stays)
    if facts.home:
        declared.append(DeclaredStay(facts.home[:6], max(facts.home_from or start, start), end))
    declared_places = sorted({s.place for s in declared})

    statuses: list[SourceStatus] = []
    per_source: list[tuple[ComparisonSource, SourceStatus, dict[str, Record]]] = []
    for src in sources:
        fresh = _aware(src.fresh_as_of) if getattr(src, "fresh_as_of", None) else None
        st = SourceStatus(name=src.name, version=str(src.version), fresh_as_of=fresh, status="ok")
        if fresh is None:
            st.status, st.detail = "stale", "source reports no refresh time"
        elif now - fresh > src.max_age:
            st.status = "stale"
            st.detail = f"data as of {fresh.isoformat()} is older than the allowed {src.max_age}"
        recs = _query(src, st, facts, start, end, declared_places)
        statuses.append(st)
        per_source.append((src, st, {r.key: r for r in recs}))

    # Pass 2: places learnt from roaming (for the risk-area check).
    roamed: set[str] = set()
    for _, _, recs in per_source:
        for r in recs.values():
            if r.kind == "roaming" and r.data.get("city"):
                roamed.add(str(r.data["city"]))
    extra = sorted(p for p in roamed if not any(regions_overlap(p, d) for d in declared_places))
    if extra:
        for src, st, recs in per_source:
            if st.status == "unavailable":
                continue
            for r in _query(src, st, facts, start, end, extra):
                recs.setdefault(r.key, r)

    hits: list[Hit] = []
    for src, st, recs in per_source:
        st.records = len(recs)
        if st.status == "unavailable":
            continue
        found, problems = _evaluate(src, list(recs.values()), facts, declared, start, end)
        hits.extend(found)
        if problems:
            st.status, st.detail = "unavailable", "malformed data: " + "; ".join(problems)

    # Risk areas need the roamed stays of every source: second sweep.
    roamed_stays = _roamed_stays(per_source, facts, start, end)
    for src, st, recs in per_source:
        if st.status == "unavailable":
            continue
        found, problems = _risk_hits(src, list(recs.values()), declared, roamed_stays, start, end)
        hits.extend(found)
        if problems:
            st.status = "unavailable"
            st.detail = (st.detail + "; " if st.detail else "malformed data: ") + "; ".join(problems)

    hits.extend(_declared_health_hits(facts, fever_threshold))

    worst = max((h.outcome for h in hits), key=SEVERITY.__getitem__, default="clear")
    complete = bool(statuses) and all(s.status == "ok" for s in statuses)
    notes: list[str] = []
    if not statuses:
        notes.append("no comparison source is configured")
    if complete or worst in RED_LIST_OUTCOMES:
        outcome = worst
    else:
        outcome = "incomplete"
    if not complete:
        bad = [f"{s.name} ({s.status})" for s in statuses if s.status != "ok"]
        if bad:
            notes.append("not every source answered fresh: " + ", ".join(bad))
    hits.sort(key=lambda h: (-SEVERITY[h.outcome], h.source, h.record_key))
    return ComparisonResult(
        outcome=outcome,
        hits=hits,
        sources=statuses,
        red_list=any(h.outcome in AUTO_ISSUE_WITHHELD_OUTCOMES for h in hits),
        complete=complete,
        window_start=start,
        window_end=end,
        compared_at=now,
        worst_hit=worst,
        notes=notes,
    )


def _declared_health_hits(facts: DeclarationFacts, fever_threshold: float) -> list[Hit]:
    """The declaration's own health status: a fever or a symptom goes before the issuer."""
    hits: list[Hit] = []
    if facts.temperature is not None and facts.temperature >= fever_threshold:
        hits.append(Hit(
            DECLARATION_SOURCE, "1", "health.temperature", "declared_fever", "declared_ill",
            f"declared body temperature {facts.temperature:g} °C (fever: {fever_threshold:g} °C or more); "
            "the community checks on the person; never issued green automatically (R12)",
            evidence={"temperature": facts.temperature, "threshold": fever_threshold},
        ))
    if facts.symptoms:
        hits.append(Hit(
            DECLARATION_SOURCE, "1", "health.symptoms", "declared_symptoms", "declared_ill",
            f"declared symptoms: {', '.join(facts.symptoms)}; the community checks on the person; "
            "never issued green automatically (R12)",
            evidence={"symptoms": list(facts.symptoms)},
        ))
    return hits


def _dates(r: Record, lo_key: str, hi_key: str) -> tuple[date | None, date | None]:
    try:
        return as_date(r.data.get(lo_key)), as_date(r.data.get(hi_key))
    except (TypeError, ValueError) as exc:
        raise _MalformedRecord(f"record {r.key}: bad date ({exc})") from None


def _roaming_qualifies(r: Record, facts: DeclarationFacts, start: date, end: date) -> tuple[date, date] | None:
    """The record's period clipped to the window when it is a >= 4 h stay of this phone."""
    if r.data.get("phone_hash") not in (None, facts.phone_hash):
        return None
    city = r.data.get("city")
    if not city:
        raise _MalformedRecord(f"record {r.key}: roaming record without city")
    lo, hi = _dates(r, "from", "to")
    if lo is None:
        raise _MalformedRecord(f"record {r.key}: roaming record without a from date")
    hi = hi or lo
    hours = r.data.get("hours")
    if hours is not None:
        try:
            if float(hours) < ROAMING_MIN_HOURS:
                return None
        except (TypeError, ValueError):
            raise _MalformedRecord(f"record {r.key}: bad hours {hours!r}") from None
    return _clip(lo, hi, start, end)


def _roamed_stays(per_source: list, facts: DeclarationFacts, start: date, end: date) -> list[DeclaredStay]:
    out: list[DeclaredStay] = []
    for _, st, recs in per_source:
        if st.status == "unavailable":
            continue
        for r in recs.values():
            if r.kind != "roaming":
                continue
            try:
                clipped = _roaming_qualifies(r, facts, start, end)
            except _MalformedRecord:
                continue  # reported by _evaluate
            if clipped:
                out.append(DeclaredStay(str(r.data["city"]), *clipped))
    return out


def _evaluate(
    src: ComparisonSource, recs: list[Record], facts: DeclarationFacts,
    declared: list[DeclaredStay], start: date, end: date,
) -> tuple[list[Hit], list[str]]:
    hits: list[Hit] = []
    problems: list[str] = []

    def hit(r: Record, outcome: str, why: str) -> None:
        hits.append(Hit(src.name, str(src.version), r.key, r.kind, outcome, why))

    abroad_declared = any(not region_prefix(s.place).isdigit() for s in facts.stays)
    for r in recs:
        try:
            _evaluate_one(r, hit, facts, declared, start, end, abroad_declared)
        except _MalformedRecord as exc:
            problems.append(str(exc))
    return hits, problems


def _evaluate_one(
    r: Record, hit: Any, facts: DeclarationFacts, declared: list[DeclaredStay],
    start: date, end: date, abroad_declared: bool,
) -> None:
    d = r.data
    if r.kind in ("confirmed", "suspected", "close_contact", "border_entry"):
        if d.get("id_hash") not in (None, facts.id_hash):
            return
    if r.kind in ("confirmed", "suspected"):
        status = d.get("status", r.kind)
        hit(r, "confirmed", f"ID is on the {status} case registry (listed {d.get('listed_at', 'n/a')})")
    elif r.kind == "close_contact":
        hit(r, "close_contact", f"ID is on the close-contact registry (listed {d.get('listed_at', 'n/a')})")
    elif r.kind == "roaming":
        clipped = _roaming_qualifies(r, facts, start, end)
        if clipped is None:
            return  # outside the window, under 4 h, or another phone
        lo, hi = _dates(r, "from", "to")
        hi = hi or lo
        city = str(d["city"])
        covered = any(
            _same_city(city, s.place)
            and _overlap(s.from_date - ROAMING_TOLERANCE, s.to_date + ROAMING_TOLERANCE, lo, hi)
            for s in declared
        )
        if not covered:
            hours = d.get("hours")
            h = f"{float(hours):g} h" if hours is not None else ">= 4 h"
            hit(r, "mismatch",
                f"roaming records show {h} in city {city} from {lo.isoformat()} to "
                f"{hi.isoformat()}, which the declaration omits (possible false declaration, R15)")
    elif r.kind == "border_entry":
        when, _ = _dates(r, "date", "date")
        if when is None:
            raise _MalformedRecord(f"record {r.key}: border entry without a date")
        if start <= when <= end and not abroad_declared:
            hit(r, "mismatch",
                f"border entry at {d.get('port', 'unknown port')} on {when.isoformat()}, "
                "but no stay abroad is declared (possible false declaration, R15)")


def _risk_hits(
    src: ComparisonSource, recs: list[Record], declared: list[DeclaredStay],
    roamed: list[DeclaredStay], start: date, end: date,
) -> tuple[list[Hit], list[str]]:
    hits: list[Hit] = []
    problems: list[str] = []
    seen: set[tuple[str, str]] = set()
    for r in recs:
        if r.kind != "risk_area":
            continue
        region = r.data.get("region")
        if not region:
            problems.append(f"record {r.key}: risk area without region")
            continue
        if str(r.data.get("level", "high")).lower() != "high":
            continue
        try:
            lo, hi = _dates(r, "from", "to")
        except _MalformedRecord as exc:
            problems.append(str(exc))
            continue
        for origin, stays in (("declared", declared), ("roaming", roamed)):
            for s in stays:
                clipped = _clip(s.from_date, s.to_date, start, end)
                if clipped is None or not regions_overlap(str(region), s.place):
                    continue
                if not _overlap(lo, hi, *clipped):
                    continue
                k = (r.key, s.place)
                if k in seen:
                    continue
                seen.add(k)
                listed = f"{lo.isoformat() if lo else '?'} to {hi.isoformat() if hi else 'now'}"
                hits.append(Hit(
                    src.name, str(src.version), r.key, r.kind, "risk_area",
                    f"{origin} stay in {s.place} ({clipped[0].isoformat()} to {clipped[1].isoformat()}) "
                    f"inside high-risk area {region} listed {listed}",
                ))
    return hits, problems
