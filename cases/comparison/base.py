"""The interface between the comparison engine and its data sources.

A *source* is one feed of the big-data comparison (R14 step 2): the high-risk
area list, the close-contact registry, the confirmed/suspected registry,
telecom roaming ("itinerary card") records, border entry records.  The engine
never reads a database; a source does (the DB-backed sources live elsewhere and
implement ``ComparisonSource``).

Record ``data`` by kind (dates are ``date`` objects or ISO ``YYYY-MM-DD``
strings -- what ``csv_import`` produces, JSON-safe for storage):

==============  =================================================================
kind            data keys
==============  =================================================================
risk_area       ``region`` (6-digit GB/T 2260 code -- ``xx0000`` province,
                ``xxxx00`` city -- or ISO alpha-3 country), ``level``
                (``high``/``medium``/``low``), ``from``, ``to`` (``None`` = still
                listed)
close_contact   ``id_hash``, ``listed_at``
confirmed       ``id_hash``, ``status`` = ``confirmed``, ``listed_at``
suspected       ``id_hash``, ``status`` = ``suspected``, ``listed_at``
roaming         ``phone_hash``, ``city`` (4-digit ``xxxx``, ``xxxx00`` or a 6-digit
                county code), ``from``, ``to``, ``hours`` (hours of presence;
                the itinerary card lists stays of >= 4 h)
border_entry    ``id_hash``, ``port``, ``date``
==============  =================================================================

Registries (close_contact, confirmed, suspected) are lists of people *currently*
listed: delisting is the source's job, the engine does not age them out.

``lookup`` contract: return the records that may concern this person -- those
with this ``id_hash`` or ``phone_hash``, and risk areas covering any of
``places`` -- overlapping ``window_start``..``window_end``.  Returning more is
allowed (the engine re-checks everything); returning less is a bug.  Raise
``SourceUnavailable`` when the feed cannot be queried; the engine then reports
the comparison ``incomplete`` (never a silent clear).  The engine may call
``lookup`` twice: the second time with places learnt from roaming records.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Literal, Protocol, runtime_checkable

__all__ = [
    "RECORD_KINDS",
    "RecordKind",
    "Record",
    "SourceUnavailable",
    "ComparisonSource",
    "InMemorySource",
    "as_date",
    "region_prefix",
    "city_prefix",
    "regions_overlap",
]

RecordKind = Literal["risk_area", "close_contact", "confirmed", "suspected", "roaming", "border_entry"]
RECORD_KINDS: tuple[str, ...] = ("risk_area", "close_contact", "confirmed", "suspected", "roaming", "border_entry")


@dataclass(frozen=True)
class Record:
    """One record of a source. ``key`` is the record id inside that source."""

    source: str
    kind: str
    key: str
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in RECORD_KINDS:
            raise ValueError(f"unknown record kind {self.kind!r}; one of {', '.join(RECORD_KINDS)}")


class SourceUnavailable(Exception):
    """The source cannot be queried now (down, timed out, not loaded)."""


@runtime_checkable
class ComparisonSource(Protocol):
    """What the engine needs of a source.

    ``fresh_as_of``: when the source's data was last refreshed (aware datetime;
    a naive one is read as UTC).  ``max_age``: older than this at comparison
    time -> the source is *stale* and the comparison ``incomplete``.
    """

    name: str
    version: str
    fresh_as_of: datetime
    max_age: timedelta

    def lookup(
        self,
        *,
        id_hash: str,
        phone_hash: str,
        window_start: date,
        window_end: date,
        places: Sequence[str],
    ) -> list[Record]: ...


# --------------------------------------------------------------------------- #
# helpers shared with the engine
# --------------------------------------------------------------------------- #


def as_date(value: Any) -> date | None:
    """``date`` / ``datetime`` / ISO string / None -> ``date`` or None."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    raise TypeError(f"not a date: {value!r}")


_MUNICIPALITIES = {"11", "12", "31", "50"}


def region_prefix(code: str) -> str:
    """Significant prefix of a place code for containment tests.

    ``420000`` -> ``42``; ``420100``/``4201`` -> ``4201``; ``420106`` -> ``420106``;
    municipalities (Beijing, Tianjin, Shanghai, Chongqing) compare as a whole
    (``110105`` -> ``11``), since their "city" level is an artefact of the code.
    Country codes are returned unchanged (uppercase).
    """
    c = str(code).strip().upper()
    if not c.isdigit():
        return c
    if len(c) == 4:
        c += "00"
    if c[:2] in _MUNICIPALITIES:
        return c[:2]
    if c.endswith("0000"):
        return c[:2]
    if c.endswith("00"):
        return c[:4]
    return c


def city_prefix(code: str) -> str:
    """City-level prefix (4 digits; 2 for municipalities); countries unchanged."""
    p = region_prefix(code)
    return p if not p.isdigit() else p[:4] if len(p) >= 4 else p


def regions_overlap(a: str, b: str) -> bool:
    """True when one place contains the other (or they are equal)."""
    pa, pb = region_prefix(a), region_prefix(b)
    if not pa.isdigit() or not pb.isdigit():
        return pa == pb
    return pa.startswith(pb) or pb.startswith(pa)


def _overlaps(a_from: date | None, a_to: date | None, b_from: date, b_to: date) -> bool:
    lo = a_from or date.min
    hi = a_to or date.max
    return lo <= b_to and b_from <= hi


# --------------------------------------------------------------------------- #
# reference implementation
# --------------------------------------------------------------------------- #


class InMemorySource:
    """A ``ComparisonSource`` over a list of records (tests, demo, CSV imports).

    ``unavailable=True`` makes ``lookup`` raise ``SourceUnavailable``.
    """

    def __init__(
        self,
        name: str,
        records: Iterable[Record | dict[str, Any]] = (),
        *,
        version: str = "1",
        fresh_as_of: datetime | None = None,
        max_age: timedelta = timedelta(days=1),
        unavailable: bool = False,
    ) -> None:
        self.name = name
        self.version = version
        self.fresh_as_of = fresh_as_of or datetime.now(timezone.utc)
        self.max_age = max_age
        self.unavailable = unavailable
        self.records: list[Record] = [
            r if isinstance(r, Record) else Record(source=name, kind=r["kind"], key=r["key"], data=dict(r["data"]))
            for r in records
        ]
        self.calls: list[dict[str, Any]] = []

    def lookup(
        self,
        *,
        id_hash: str,
        phone_hash: str,
        window_start: date,
        window_end: date,
        places: Sequence[str],
    ) -> list[Record]:
        self.calls.append(
            {"id_hash": id_hash, "phone_hash": phone_hash, "window_start": window_start,
             "window_end": window_end, "places": list(places)}
        )
        if self.unavailable:
            raise SourceUnavailable(f"source {self.name} is unavailable")
        out: list[Record] = []
        for r in self.records:
            d = r.data
            if r.kind == "risk_area":
                if any(regions_overlap(d["region"], p) for p in places) and _overlaps(
                    as_date(d.get("from")), as_date(d.get("to")), window_start, window_end
                ):
                    out.append(r)
            elif r.kind == "roaming":
                if d.get("phone_hash") == phone_hash and _overlaps(
                    as_date(d.get("from")), as_date(d.get("to")), window_start, window_end
                ):
                    out.append(r)
            elif d.get("id_hash") == id_hash:
                out.append(r)
        return out
