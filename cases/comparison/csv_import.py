"""Import comparison-source feeds from CSV; raw ID numbers and phones never leave here.

``parse_source_csv(source, text, *, hash_key)`` returns ``(rows, rejected)``.
Each accepted row is a JSON-safe dict ``{"kind", "key", "line", "data"}``
ready for ``Record(source=..., kind=row["kind"], key=row["key"], data=row["data"])``
(``rows_to_records`` does that).  ``key`` is a digest of the row's content, so
re-importing the same feed is idempotent.  Each rejected row is a
``RejectedRow(line, reason, values)`` with the physical line number (header =
line 1) and the row's values with ID numbers and phones masked.

Sources and columns (header names exact, any order; ``#`` lines and blank
lines are skipped; UTF-8 with or without BOM):

=================  ==========================================================
risk_areas         ``region`` (6-digit GB/T 2260 or ISO country), ``level``
                   (high|medium|low), ``from``, ``to`` (empty = still listed)
close_contacts     ``id_number`` *or* ``id_hash``, ``listed_at``
confirmed_cases    ``id_number`` *or* ``id_hash``, ``status`` (confirmed|suspected),
                   ``listed_at``
roaming            ``phone``, ``city`` (4 or 6 digits), ``from``, ``to``, ``hours``
border_entries     ``id_number`` *or* ``id_hash``, ``port``, ``date``
=================  ==========================================================

``id_number`` is checked as a resident ID (18 characters starting with a
digit), else as a Hong Kong/Macao/Taiwan permit, else as a passport, and is
stored as ``keyed_hash`` (HMAC-SHA256, base64url); a column may hold either
``id_number`` or ``id_hash`` per row, not both.  ``phone`` goes through
``check_mobile`` before hashing.  Dates are ISO ``YYYY-MM-DD``; with
``allow_relative_dates=True`` (demo seeds only) ``today``, ``today-N`` and
``today+N`` are also accepted, relative to ``today``.  Dates after ``today``
are rejected (a feed reports the past).

A file whose header lacks a required column or has an unknown column raises
``ValueError`` (nothing is imported); an unknown ``source`` raises too.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from cases.comparison.base import Record
from cases.validation import (
    check_hmt_permit,
    check_passport,
    check_place,
    check_resident_id,
    check_region_code,
    hash_phone,
    keyed_hash,
    mask_id,
    mask_phone,
    today_shanghai,
)

__all__ = ["SOURCES", "RejectedRow", "csv_records", "parse_source_csv", "rows_to_records"]


@dataclass(frozen=True)
class _Spec:
    kind: str | None  # None: decided per row (confirmed_cases)
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    id_column: bool = False


SOURCES: dict[str, _Spec] = {
    "risk_areas": _Spec("risk_area", ("region", "level", "from"), ("to",)),
    "close_contacts": _Spec("close_contact", ("listed_at",), id_column=True),
    "confirmed_cases": _Spec(None, ("status", "listed_at"), id_column=True),
    "roaming": _Spec("roaming", ("phone", "city", "from", "to", "hours")),
    "border_entries": _Spec("border_entry", ("port", "date"), id_column=True),
}

_ID_HASH = re.compile(r"^[A-Za-z0-9_-]{43}$")
_REL = re.compile(r"^today(?:([+-])(\d{1,4}))?$")
_CITY = re.compile(r"^\d{4}(\d{2})?$")


@dataclass(frozen=True)
class RejectedRow:
    line: int
    reason: str
    values: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "reason": self.reason, "values": dict(self.values)}


class _Reject(Exception):
    pass


def _masked(row: dict[str, str]) -> dict[str, str]:
    out = {}
    for k, v in row.items():
        if k == "id_number" and v:
            out[k] = mask_id(v)
        elif k == "phone" and v:
            out[k] = mask_phone(v)
        else:
            out[k] = v
    return out


def _parse_date(value: str, column: str, *, today: date, relative: bool) -> date:
    v = value.strip()
    if not v:
        raise _Reject(f"{column} is empty")
    m = _REL.match(v.lower()) if relative else None
    if m:
        n = int(m.group(2) or 0)
        d = today - timedelta(days=n) if m.group(1) == "-" else today + timedelta(days=n)
    else:
        try:
            d = date.fromisoformat(v)
        except ValueError:
            raise _Reject(f"{column} {v!r} is not a date (YYYY-MM-DD)") from None
        if len(v) != 10:
            raise _Reject(f"{column} {v!r} is not a date (YYYY-MM-DD)")
    if d > today:
        raise _Reject(f"{column} {d.isoformat()} is in the future")
    return d


def _normalise_id(value: str, *, today: date) -> str:
    v = re.sub(r"\s+", "", value).upper()
    if len(v) == 18 and v[:1].isdigit() and v[:2] not in {"81", "82", "83"}:
        try:
            return check_resident_id(v, today=today)
        except ValueError as exc:
            raise _Reject(f"id_number: {exc}") from None
    for check in (check_hmt_permit, check_passport):
        try:
            return check(v)
        except ValueError:
            continue
    raise _Reject("id_number is neither a resident ID, a Hong Kong/Macao/Taiwan permit nor a passport number")


def _id_hash(row: dict[str, str], *, key: bytes, today: date) -> str:
    number = (row.get("id_number") or "").strip()
    given = (row.get("id_hash") or "").strip()
    if number and given:
        raise _Reject("give id_number or id_hash, not both")
    if number:
        return keyed_hash(_normalise_id(number, today=today), key=key)
    if given:
        if not _ID_HASH.match(given):
            raise _Reject("id_hash must be a base64url HMAC-SHA256 (43 characters)")
        return given
    raise _Reject("id_number or id_hash is required")


def _row_key(source: str, data: dict[str, Any]) -> str:
    blob = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return f"{source}:" + hashlib.sha256(f"{source}|{blob}".encode()).hexdigest()[:24]


def _convert(
    source: str, spec: _Spec, row: dict[str, str], *, key: bytes, today: date, relative: bool
) -> tuple[str, dict[str, Any]]:
    def dt(col: str) -> date:
        return _parse_date(row.get(col, ""), col, today=today, relative=relative)

    if source == "risk_areas":
        try:
            region = check_place(row["region"])
        except ValueError as exc:
            raise _Reject(f"region: {exc}") from None
        level = row["level"].strip().lower()
        if level not in ("high", "medium", "low"):
            raise _Reject(f"level {row['level']!r} must be high, medium or low")
        lo = dt("from")
        hi = dt("to") if (row.get("to") or "").strip() else None
        if hi is not None and hi < lo:
            raise _Reject("to is before from")
        return "risk_area", {"region": region, "level": level, "from": lo.isoformat(),
                             "to": hi.isoformat() if hi else None}
    if source == "close_contacts":
        return "close_contact", {"id_hash": _id_hash(row, key=key, today=today),
                                 "listed_at": dt("listed_at").isoformat()}
    if source == "confirmed_cases":
        status = row["status"].strip().lower()
        if status not in ("confirmed", "suspected"):
            raise _Reject(f"status {row['status']!r} must be confirmed or suspected")
        return status, {"id_hash": _id_hash(row, key=key, today=today), "status": status,
                        "listed_at": dt("listed_at").isoformat()}
    if source == "roaming":
        try:
            phone_hash = hash_phone(row["phone"], key=key)
        except ValueError as exc:
            raise _Reject(f"phone: {exc}") from None
        city = row["city"].strip()
        if not _CITY.match(city):
            raise _Reject(f"city {city!r} must be a 4- or 6-digit region code")
        try:
            city = check_region_code(city if len(city) == 6 else city + "00")
        except ValueError as exc:
            raise _Reject(f"city: {exc}") from None
        lo, hi = dt("from"), dt("to")
        if hi < lo:
            raise _Reject("to is before from")
        try:
            hours = float(row["hours"])
        except ValueError:
            raise _Reject(f"hours {row['hours']!r} is not a number") from None
        if not 0 < hours <= 24 * ((hi - lo).days + 1):
            raise _Reject(f"hours {hours:g} does not fit the period {lo.isoformat()} to {hi.isoformat()}")
        return "roaming", {"phone_hash": phone_hash, "city": city, "from": lo.isoformat(),
                           "to": hi.isoformat(), "hours": hours}
    if source == "border_entries":
        port = row["port"].strip()
        if not port:
            raise _Reject("port is empty")
        return "border_entry", {"id_hash": _id_hash(row, key=key, today=today), "port": port,
                                "date": dt("date").isoformat()}
    raise AssertionError(source)  # pragma: no cover


def csv_records(text: str):
    """(line, cells) for each record of a feed: BOM dropped, blank and ``#`` lines skipped,
    ``line`` the first physical line of the record (header = line 1), for rejection reports."""
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = csv.reader(io.StringIO(text))
    prev_end = 0
    for cells in reader:
        line = prev_end + 1
        prev_end = reader.line_num
        if not cells or all(not c.strip() for c in cells) or cells[0].lstrip().startswith("#"):
            continue
        yield line, cells


def parse_source_csv(
    source: str,
    text: str,
    *,
    hash_key: bytes,
    today: date | None = None,
    allow_relative_dates: bool = False,
) -> tuple[list[dict[str, Any]], list[RejectedRow]]:
    """Parse one feed; see the module docstring."""
    spec = SOURCES.get(source)
    if spec is None:
        raise ValueError(f"unknown source {source!r}; one of {', '.join(SOURCES)}")
    if not hash_key:
        raise ValueError("hash_key is required")
    today = today or today_shanghai()
    header: list[str] | None = None
    rows: list[dict[str, Any]] = []
    rejected: list[RejectedRow] = []
    seen: dict[str, int] = {}
    for line, cells in csv_records(text):
        if header is None:
            header = [c.strip().lower() for c in cells]
            allowed = set(spec.required) | set(spec.optional) | ({"id_number", "id_hash"} if spec.id_column else set())
            missing = [c for c in spec.required if c not in header]
            if spec.id_column and not ({"id_number", "id_hash"} & set(header)):
                missing.append("id_number or id_hash")
            unknown = [c for c in header if c not in allowed]
            dupes = sorted({c for c in header if header.count(c) > 1})
            if missing or unknown or dupes:
                parts = []
                if missing:
                    parts.append("missing column(s): " + ", ".join(missing))
                if unknown:
                    parts.append("unknown column(s): " + ", ".join(unknown))
                if dupes:
                    parts.append("duplicate column(s): " + ", ".join(dupes))
                raise ValueError(f"{source}: bad header on line {line}: " + "; ".join(parts))
            continue
        row = {h: (cells[i].strip() if i < len(cells) else "") for i, h in enumerate(header)}
        if len(cells) > len(header) and any(c.strip() for c in cells[len(header):]):
            rejected.append(RejectedRow(line, f"{len(cells)} fields, the header has {len(header)}", _masked(row)))
            continue
        try:
            kind, data = _convert(source, spec, row, key=hash_key, today=today, relative=allow_relative_dates)
        except _Reject as exc:
            rejected.append(RejectedRow(line, str(exc), _masked(row)))
            continue
        key = _row_key(source, {"kind": kind, **data})
        if key in seen:
            rejected.append(RejectedRow(line, f"duplicate of line {seen[key]}", _masked(row)))
            continue
        seen[key] = line
        rows.append({"kind": kind, "key": key, "line": line, "data": data})
    if header is None:
        raise ValueError(f"{source}: the file has no header line")
    return rows, rejected


def rows_to_records(source: str, rows: list[dict[str, Any]]) -> list[Record]:
    """Accepted rows of ``parse_source_csv`` -> ``Record`` objects of ``source``."""
    return [Record(source=source, kind=r["kind"], key=r["key"], data=dict(r["data"])) for r in rows]
