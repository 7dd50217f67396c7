"""Import cards issued under the old name (R1): "Health Pass Card for Returned Overseas Students".

The notice renamed the card "Shandong Health Pass Card"; cards already issued under the old
name stay valid. :func:`import_legacy_cards` turns a CSV of such cards into :class:`Pass` rows
signed with the current key, so a checkpoint verifies them like any other pass (R3, R4) and
shows them under the new name (R1: ``verify.decide`` maps the legacy ``crd`` claim).

CSV columns (header names exact, any order; ``#`` lines and blank lines are skipped; UTF-8
with or without BOM):

=================  ===========================================================================
card_name          the name the card was issued under: a legacy name
                   (``claims.LEGACY_CARD_NAMES``) or the current name (English or Chinese)
name               the holder's name; only its mask (``claims.mask_name``) is stored and signed
id_type            ``resident_id`` | ``passport`` | ``hmt_permit``
id_number          checked with ``validation.check_id_number``; only its keyed hash is signed,
                   it is never stored and never echoed (rejections show ``mask_id``)
colour             ``green`` | ``yellow`` | ``red``
issued_at          ISO 8601 with an offset (``2026-03-01T10:00:00+08:00``), not after the
                   import, not before 2020; whole seconds (fractions are dropped)
region             issuing region in the store: a 6-digit county or a 12-digit community code
legacy_number      optional: the old card's printed number, carried into the report (and the
                   CLI's ``--out`` mapping) so the old card can be matched and reprinted
=================  ===========================================================================

Each valid row becomes a ``Pass`` with ``application_id=None``, ``issued_by="legacy-import"``,
``card_name`` = the name it was issued under (the JWS ``crd`` claim keeps it too) and
``valid_until = issued_at + pass_validity_days`` (R2). A card already expired at import is
imported all the same and reported as expired: a checkpoint answers DENY ``expired``.

One valid pass per person (R2): an imported card is settled with the holder's live passes (their
cases' passes, matched by ``applicant.id_hash``, and other imported cards, matched by ``idh``):
the pass issued last stays valid and every other is revoked ``superseded``
(``passes.settle_imported``). An old card imported after a newer pass is imported superseded.

Idempotency (the choice, documented)
------------------------------------
The row's identity is a digest of ``card_name``, the keyed hash of the ID number, ``issued_at``
(UTC, whole seconds) and ``colour``. The digest **is** the pass id (32 hex characters, the
shape of the other pass ids): a re-import computes the same id and finds the pass by primary
key, so no column or migration is needed and the primary key also settles two importers
running at once. Nothing is abused to hold the key (``revoke_reason`` stays for revocations).

Looking a pass up by ``masked_name + issued_at + colour + region + card_name`` was considered
and not used: legacy cards were often issued in batches with the same timestamp, and masked
names collide (``张*三`` is many people), so two different holders would be merged into one
pass. The ID hash tells them apart. The digest is an HMAC under a domain-separated key derived
from the ``idhash`` secret, so the pass id (which the QR and the revocation list carry) reveals
nothing beyond what ``idh`` already does. Consequences: a row whose name is spelt differently
but otherwise identical is the same card (already present); a revoked imported card stays
revoked on re-import (it is never re-created); rotating the ``idhash`` secret would make a
re-import create new passes.

``legacy_number`` is not stored in the case store (there is no column for it and this importer
adds no migration); it is returned per row so the caller can keep the mapping
(``healthpass pass import-legacy --out``). Rows of the file that are already present are
reported too, so re-running the import rebuilds the full mapping.

Bad rows are rejected with their physical line number (header = line 1) and a reason that
never contains a raw ID number (nor parts of it such as the birth date) or the raw name.
A bad header raises ``ValueError`` and imports nothing.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from cases.codes import card_number as card_numbers
from cases.comparison.csv_import import csv_records
from cases.codes import claims as claim_mod
from cases.codes import jws
from cases.models import Pass, PassColour, Region, RegionLevel
from cases.settings import Settings
from cases.validation import check_id_number, mask_id

__all__ = ["ISSUED_BY", "REQUIRED_COLUMNS", "OPTIONAL_COLUMNS", "LegacyCard", "LegacyImportReport", "import_legacy_cards", "legacy_pass_id"]

ISSUED_BY = "legacy-import"
REQUIRED_COLUMNS = ("card_name", "name", "id_type", "id_number", "colour", "issued_at", "region")
OPTIONAL_COLUMNS = ("legacy_number",)
ID_TYPES = ("resident_id", "passport", "hmt_permit")
# Current names: the Chinese one is the same card type, stored and signed as CARD_NAME.
_CURRENT_NAMES = {claim_mod.CARD_NAME: claim_mod.CARD_NAME, claim_mod.CARD_NAME_ZH: claim_mod.CARD_NAME}
_EARLIEST = datetime(2020, 1, 1, tzinfo=timezone.utc)  # no health pass card existed before 2020
_MAX_NAME = 100
_MAX_LEGACY_NUMBER = 64
_DIGEST_CONTEXT = b"SDHP-legacy-import-v1"


@dataclass
class LegacyCard:
    """One imported (or already present) card: enough to reprint it, nothing identifying."""

    line: int
    status: str  # "imported" | "already_present"
    pass_id: str
    card_number: str
    legacy_number: str
    card_name: str  # the name it was issued under
    colour: str
    masked_name: str
    region: str
    issued_at: datetime
    valid_until: datetime
    expired: bool
    revoked: bool = False


@dataclass
class LegacyImportReport:
    cards: list[LegacyCard] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)  # {"line", "reason"}

    @property
    def imported(self) -> int:
        return sum(1 for c in self.cards if c.status == "imported")

    @property
    def already_present(self) -> int:
        return sum(1 for c in self.cards if c.status == "already_present")

    @property
    def expired(self) -> int:
        return sum(1 for c in self.cards if c.expired)

    def to_dict(self) -> dict[str, Any]:
        return {
            "imported": self.imported,
            "already_present": self.already_present,
            "expired": self.expired,
            "rejected": [dict(r) for r in self.rejected],
            "cards": [{**asdict(c), "issued_at": c.issued_at.isoformat(), "valid_until": c.valid_until.isoformat()} for c in self.cards],
        }


class _Reject(Exception):
    pass


def _digest_key(hash_key: bytes) -> bytes:
    return hmac.new(hash_key, _DIGEST_CONTEXT, hashlib.sha256).digest()


def legacy_pass_id(*, card_name: str, id_hash: str, issued_at: datetime, colour: str, hash_key: bytes) -> str:
    """The pass id of a legacy card: a keyed digest of what identifies the card (see the module doc)."""
    instant = issued_at.astimezone(timezone.utc).replace(microsecond=0).isoformat()
    message = "\0".join((card_name, id_hash, instant, colour)).encode("utf-8")
    return hmac.new(_digest_key(hash_key), message, hashlib.sha256).hexdigest()[:32]


def _scrub(message: str, raw_id: str) -> str:
    """Hide any run of digits in a validator's message that is a piece of the ID number
    (address code, birth date such as ``2031-02-30``)."""
    whole = re.sub(r"[\s-]", "", raw_id).upper()

    def repl(m: re.Match) -> str:
        token = m.group(0).replace("-", "")
        return "*" * len(m.group(0)) if len(token) >= 4 and token in whole else m.group(0)

    return re.sub(r"\d[\d-]*\d", repl, message)


def _card_name(value: str) -> str:
    v = unicodedata.normalize("NFC", " ".join(value.split()))
    if not v:
        raise _Reject("card_name is empty")
    if v in _CURRENT_NAMES:
        return _CURRENT_NAMES[v]
    if v in claim_mod.LEGACY_CARD_NAMES:
        return v
    known = sorted(claim_mod.LEGACY_CARD_NAMES) + [claim_mod.CARD_NAME]
    raise _Reject(f"card_name {v[:80]!r} is not a legacy or the current card name ({'; '.join(repr(k) for k in known)})")


def _name(value: str) -> str:
    if not value:
        raise _Reject("name is empty")
    if len(value) > _MAX_NAME:
        raise _Reject(f"name is longer than {_MAX_NAME} characters")
    try:
        return claim_mod.mask_name(value)
    except ValueError as exc:
        raise _Reject(f"name: {exc}") from None


def _id_number(id_type: str, value: str, *, today) -> str:
    t = id_type.lower()
    if not t:
        raise _Reject("id_type is empty")
    if t not in ID_TYPES:
        raise _Reject(f"id_type {id_type[:40]!r} is not one of {', '.join(ID_TYPES)}")
    if not value:
        raise _Reject("id_number is empty")
    try:
        return check_id_number(t, value, today=today)
    except ValueError as exc:
        raise _Reject(f"id_number {mask_id(value)} is not a valid {t}: {_scrub(str(exc), value)}") from None


def _colour(value: str) -> str:
    v = value.lower()
    if v not in claim_mod.COLOURS:
        raise _Reject(f"colour {value[:20]!r} is not one of {', '.join(claim_mod.COLOURS)}")
    return v


def _issued_at(value: str, *, at: datetime) -> datetime:
    if not value:
        raise _Reject("issued_at is empty")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _Reject(f"issued_at {value[:40]!r} is not an ISO 8601 date-time") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise _Reject(f"issued_at {value[:40]!r} has no UTC offset (e.g. {value[:25]}+08:00)")
    instant = parsed.astimezone(timezone.utc).replace(microsecond=0)
    if instant > at:
        raise _Reject(f"issued_at {value} is after the import ({at.isoformat()})")
    if instant < _EARLIEST:
        raise _Reject(f"issued_at {value} is before 2020: no health pass card was issued then")
    return instant


def _region(value: str, regions: dict[str, Region | None], session: Session) -> str:
    if not value:
        raise _Reject("region is empty")
    if not (value.isascii() and value.isdigit() and len(value) in (6, 12)):
        raise _Reject(f"region {value[:20]!r} must be a 6-digit county or a 12-digit community code")
    if value not in regions:
        regions[value] = session.get(Region, value)
    region = regions[value]
    wanted = RegionLevel.county if len(value) == 6 else RegionLevel.community
    if region is None or region.level != wanted:
        raise _Reject(f"region {value} is not a known {wanted.value}")
    return value


def _legacy_number(value: str) -> str:
    if len(value) > _MAX_LEGACY_NUMBER:
        raise _Reject(f"legacy_number is longer than {_MAX_LEGACY_NUMBER} characters")
    if any(not ch.isprintable() for ch in value):
        raise _Reject("legacy_number has control characters")
    return value


def _check_header(cells: list[str], line: int) -> list[str]:
    header = [c.strip().lower() for c in cells]
    allowed = set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS)
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    unknown = [c for c in header if c not in allowed]
    dupes = sorted({c for c in header if header.count(c) > 1})
    if missing or unknown or dupes:
        parts = []
        if missing:
            parts.append("missing column(s): " + ", ".join(missing))
        if unknown:
            parts.append("unknown column(s): " + ", ".join(repr(c[:40]) for c in unknown))
        if dupes:
            parts.append("duplicate column(s): " + ", ".join(dupes))
        raise ValueError(f"legacy cards: bad header on line {line}: " + "; ".join(parts))
    return header


def _card(line: int, status: str, p: Pass, legacy_number: str, at: datetime) -> LegacyCard:
    return LegacyCard(
        line=line,
        status=status,
        pass_id=p.id,
        card_number=p.card_number,
        legacy_number=legacy_number,
        card_name=p.card_name,
        colour=p.colour.value if isinstance(p.colour, PassColour) else str(p.colour),
        masked_name=p.masked_name,
        region=p.region_code,
        issued_at=p.issued_at,
        valid_until=p.valid_until,
        expired=p.valid_until <= at,
        revoked=p.revoked_at is not None,
    )


def import_legacy_cards(*, session: Session, text: str, at: datetime, settings: Settings) -> LegacyImportReport:
    """Validate the CSV and create one signed ``Pass`` per new valid row (see the module doc).

    Flushes in the caller's transaction; the caller commits. Raises ``ValueError`` for a file
    without a valid header (nothing is imported)."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("at must be a timezone-aware datetime")
    from cases.clock import SHANGHAI
    from cases.services.passes import keystore, settle_imported

    at = at.astimezone(timezone.utc)
    today = at.astimezone(SHANGHAI).date()
    hash_key = settings.secret("idhash")
    validity = timedelta(days=settings.pass_validity_days)  # R2
    report = LegacyImportReport()
    header: list[str] | None = None
    regions: dict[str, Region | None] = {}
    seen: dict[str, int] = {}
    seen_legacy: dict[str, int] = {}
    key = None
    for line, cells in csv_records(text):
        if header is None:
            header = _check_header(cells, line)
            continue
        if len(cells) > len(header) and any(c.strip() for c in cells[len(header):]):
            report.rejected.append({"line": line, "reason": f"{len(cells)} fields, the header has {len(header)}"})
            continue
        row = {h: (cells[i].strip() if i < len(cells) else "") for i, h in enumerate(header)}
        try:
            card_name = _card_name(row["card_name"])
            masked = _name(row["name"])
            id_number = _id_number(row["id_type"], row["id_number"], today=today)
            colour = _colour(row["colour"])
            issued_at = _issued_at(row["issued_at"], at=at)
            region = _region(row["region"], regions, session)
            legacy_number = _legacy_number(row.get("legacy_number", ""))
        except _Reject as exc:
            report.rejected.append({"line": line, "reason": str(exc)})
            continue

        id_hash = claim_mod.id_hash(id_number, key=hash_key)
        pass_id = legacy_pass_id(card_name=card_name, id_hash=id_hash, issued_at=issued_at, colour=colour, hash_key=hash_key)
        if pass_id in seen:
            report.rejected.append({"line": line, "reason": f"duplicate of line {seen[pass_id]} (same card name, ID, issued_at and colour)"})
            continue
        if legacy_number and legacy_number in seen_legacy:
            report.rejected.append({"line": line, "reason": f"legacy_number {legacy_number!r} is also on line {seen_legacy[legacy_number]}, for another card"})
            continue
        seen[pass_id] = line
        if legacy_number:
            seen_legacy[legacy_number] = line

        existing = session.get(Pass, pass_id)
        if existing is not None:
            report.cards.append(_card(line, "already_present", existing, legacy_number, at))
            continue

        if key is None:
            key = keystore(str(settings.keys_dir)).ensure_active(now=at)
        valid_until = issued_at + validity
        new = Pass(
            id=pass_id,
            application_id=None,
            colour=PassColour(colour),
            issued_at=issued_at,
            valid_until=valid_until,
            region_code=region,
            masked_name=masked,
            kid=key.kid,
            token="",
            card_number=card_numbers.make_card_number(pass_id),
            card_name=card_name,
            issued_by=ISSUED_BY,
        )
        token_claims = claim_mod.build_claims(
            pass_id=pass_id,
            colour=colour,
            issued_at=issued_at,
            valid_until=valid_until,
            region=region[:6],  # county level, as issue_pass signs it; valid province-wide (R2)
            name=row["name"],
            id_number=id_number,
            hash_key=hash_key,
            card_name=card_name,  # R1: the old name stays in the card; checkpoints show the new one
        )
        new.token = jws.sign(token_claims, key)
        try:
            with session.begin_nested():
                session.add(new)
                session.flush()
        except IntegrityError:
            # Another importer committed this card meanwhile (same id), or - 60-bit odds - a
            # card number clash with a different pass. The savepoint's rollback dropped `new`.
            other = session.get(Pass, pass_id)
            if other is not None:
                report.cards.append(_card(line, "already_present", other, legacy_number, at))
            else:
                report.rejected.append({"line": line, "reason": "card number clashes with another pass; not imported"})
            continue
        settle_imported(session=session, new=new, id_number=id_number, by=ISSUED_BY, at=at, settings=settings)  # R2: one valid pass per person
        report.cards.append(_card(line, "imported", new, legacy_number, at))
    if header is None:
        raise ValueError("legacy cards: the file has no header line")
    return report
