"""Comparison sources kept in the store (the default implementation, R14/R15)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Sequence

from sqlalchemy import func
from sqlmodel import Session, select

from cases.comparison.base import Record, SourceUnavailable
from cases.comparison.csv_import import SOURCES, parse_source_csv
from cases.models import RegistryRecord, SourceStatus

VERSION = "store-1"
DEFAULT_MAX_AGE = {"roaming": timedelta(hours=48), "risk_areas": timedelta(hours=48)}


@dataclass
class ImportReport:
    source: str
    accepted: int
    duplicates: int
    rejected: list[dict] = field(default_factory=list)


def is_empty(session: Session, source: str) -> bool:
    return session.exec(select(func.count()).select_from(RegistryRecord).where(RegistryRecord.source == source)).one() == 0


def import_csv(*, session: Session, source: str, text: str, at: datetime, hash_key: bytes, relative_dates: bool = True) -> ImportReport:
    """Validate and load a feed; raw ID numbers and phones become keyed hashes here.
    Raises ValueError for a bad header (nothing imported); bad rows are reported, not loaded."""
    from cases.clock import SHANGHAI

    rows, rejected = parse_source_csv(source, text, hash_key=hash_key, today=at.astimezone(SHANGHAI).date(), allow_relative_dates=relative_dates)
    keys = {r["key"] for r in rows}
    existing = set(session.exec(select(RegistryRecord.key).where(RegistryRecord.key.in_(keys)))) if keys else set()
    accepted = 0
    for row in rows:
        if row["key"] in existing:
            continue
        data = row["data"]
        session.add(RegistryRecord(source=source, kind=row["kind"], key=row["key"], id_hash=data.get("id_hash"), phone_hash=data.get("phone_hash"), data=data, imported_at=at))
        accepted += 1
    status = session.get(SourceStatus, source) or SourceStatus(name=source, version=VERSION, max_age_hours=DEFAULT_MAX_AGE.get(source, timedelta(days=7)).total_seconds() / 3600)
    status.fresh_as_of, status.available = at, True
    session.add(status)
    session.flush()
    return ImportReport(source=source, accepted=accepted, duplicates=len(rows) - accepted, rejected=[r.to_dict() for r in rejected])


class StoreSource:
    """A ComparisonSource reading one registry from the store."""

    def __init__(self, session: Session, status: SourceStatus):
        self.session = session
        self.name = status.name
        self.version = status.version
        self.fresh_as_of = status.fresh_as_of
        self.max_age = timedelta(hours=status.max_age_hours)
        self.available = status.available

    def lookup(self, *, id_hash: str, phone_hash: str, window_start: date, window_end: date, places: Sequence[str]) -> list[Record]:
        if not self.available:
            raise SourceUnavailable(f"{self.name} is marked unavailable")
        query = select(RegistryRecord).where(RegistryRecord.source == self.name)
        if self.name == "roaming":
            query = query.where(RegistryRecord.phone_hash == phone_hash)
        elif self.name != "risk_areas":  # the risk-area list is small and matched by place in the engine
            query = query.where(RegistryRecord.id_hash == id_hash)
        return [Record(source=r.source, kind=r.kind, key=r.key, data=r.data) for r in self.session.exec(query)]


def sources(session: Session) -> list[StoreSource]:
    """Every known source; one never loaded counts as unavailable (never a silent clear)."""
    statuses = {s.name: s for s in session.exec(select(SourceStatus))}
    out = []
    for name in SOURCES:
        status = statuses.get(name) or SourceStatus(name=name, version=VERSION, fresh_as_of=datetime.fromtimestamp(0).astimezone(), available=False)
        out.append(StoreSource(session, status))
    return out
