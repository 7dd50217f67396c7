"""Who may see and act on what: one scope, derived from the region tree.

The tree is the Region table (province -> city -> county -> community, linked by
`parent_code`) plus the Unit table (each unit in its county). A region code is never cut
or trimmed to guess its parent: stripping the trailing zeros of a city's code leaves a
prefix that several cities share, and GB/T 2260 codes of counties may end in 0 too. A scope is the subtree under
the account's region, read from the table.

- auditor (provincial office), admin, and a supervisor of the province: everything;
- supervisor of a city, county or community: that region and everything below it, and
  the units whose county lies in it;
- issuer: their community and/or their unit; unit account: their unit;
- applicant, checkpoint, or an account without a region: nothing.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import false, or_, true
from sqlmodel import Session, select

from cases.errors import Forbidden, Invalid
from cases.models import Application, Region, RegionLevel, Role, Unit, User

_MAX_DEPTH = 8  # province -> city -> county -> community is 4; a loop in bad data must not hang


@dataclass
class Scope:
    """The part of the region tree an account covers. Build it with `scope_for`."""

    session: Session
    role: Role | None
    everything: bool = False
    root: Region | None = None  # supervisors: the region they head
    community_code: str | None = None  # issuers
    unit_code: str | None = None  # issuers of a unit, unit accounts
    _below: set[str] | None = field(default=None, repr=False)
    _units: set[str] | None = field(default=None, repr=False)

    # ------------------------------------------------------------ tree ---

    def ancestors(self, code: str) -> list[str]:
        """The region itself and every region above it, read from the tree ([] if unknown)."""
        chain: list[str] = []
        current = self.session.get(Region, code)
        while current is not None and len(chain) < _MAX_DEPTH:
            chain.append(current.code)
            current = self.session.get(Region, current.parent_code) if current.parent_code else None
        return chain

    def region_codes(self) -> set[str] | None:
        """Every region code in scope (the subtree, root included); None means everything."""
        if self.everything:
            return None
        if self._below is None:
            if self.root is not None:
                self._below = descendants(self.session, [self.root.code])
            elif self.community_code is not None:
                self._below = {self.community_code}
            else:
                self._below = set()
        return self._below

    def unit_codes(self) -> set[str] | None:
        """Every unit in scope; None means everything."""
        if self.everything:
            return None
        if self._units is None:
            units: set[str] = set()
            if self.unit_code is not None:
                units.add(self.unit_code)
            if self.root is not None:
                counties = self.region_codes() or set()
                units |= set(self.session.exec(select(Unit.code).where(Unit.county_code.in_(counties))))
            self._units = units
        return self._units

    # ---------------------------------------------------------- answers ---

    def covers_region(self, code: str | None) -> bool:
        if not code:
            return False
        if self.everything:
            return self.session.get(Region, code) is not None
        if self.root is not None:
            return self.root.code in self.ancestors(code)
        return self.community_code is not None and code == self.community_code

    def covers_unit(self, code: str | None) -> bool:
        if not code:
            return False
        unit = self.session.get(Unit, code)
        if unit is None:
            return False
        if self.everything or code == self.unit_code:
            return True
        return self.root is not None and self.covers_region(unit.county_code)

    def covers_code(self, code: str | None) -> bool:
        """A region or a unit code (holders of tasks, recipients of notifications)."""
        return self.covers_region(code) or self.covers_unit(code)

    def covers_case(self, application: Application) -> bool:
        if self.everything:
            return True
        if self.root is not None:
            return _level_code(application, self.root.level) == self.root.code
        return (self.community_code is not None and application.community_code == self.community_code) or (
            self.unit_code is not None and application.unit_code == self.unit_code
        )

    # ------------------------------------------------------ SQL filters ---

    def case_filter(self):
        """A where-clause on Application for list queries. The case rows carry their
        city, county and community codes (taken from the tree at submission)."""
        if self.everything:
            return true()
        if self.root is not None:
            column = {
                RegionLevel.city: Application.city_code,
                RegionLevel.county: Application.county_code,
                RegionLevel.community: Application.community_code,
            }.get(self.root.level)
            return false() if column is None else column == self.root.code
        clauses = []
        if self.community_code is not None:
            clauses.append(Application.community_code == self.community_code)
        if self.unit_code is not None:
            clauses.append(Application.unit_code == self.unit_code)
        return or_(*clauses) if clauses else false()

    def code_filter(self, column):
        """A where-clause: `column` holds a region or unit code inside the scope."""
        if self.everything:
            return column.is_not(None)
        codes = (self.region_codes() or set()) | (self.unit_codes() or set())
        return column.in_(sorted(codes)) if codes else false()

    def communities(self) -> list[Region]:
        """The communities (villages) in scope, by code."""
        query = select(Region).where(Region.level == RegionLevel.community)
        if not self.everything:
            query = query.where(Region.code.in_(sorted(self.region_codes() or set())))
        return list(self.session.exec(query.order_by(Region.code)))

    def within(self, code: str, *, field: str = "region") -> Scope:
        """The part of this scope under `code` (a supervisor narrowing a view):
        422 for an unknown region, 403 for one outside the scope."""
        region = self.session.get(Region, code)
        if region is None:
            raise Invalid(f"unknown region {code}", field=field)
        if not self.covers_region(code):
            raise Forbidden(f"{field}: region {code} lies outside your area", field=field)
        if region.level == RegionLevel.province:
            return self
        return Scope(session=self.session, role=self.role, root=region)


def _level_code(application: Application, level: RegionLevel) -> str | None:
    return {
        RegionLevel.city: application.city_code,
        RegionLevel.county: application.county_code,
        RegionLevel.community: application.community_code,
    }.get(level)


def descendants(session: Session, roots: Iterable[str]) -> set[str]:
    """The codes of `roots` and of every region below them (one query per tree level)."""
    found = set(roots)
    frontier = set(found)
    for _ in range(_MAX_DEPTH):
        if not frontier:
            break
        children = set(session.exec(select(Region.code).where(Region.parent_code.in_(sorted(frontier))))) - found
        found |= children
        frontier = children
    return found


def scope_for(session: Session, user: User | None) -> Scope:
    """The scope of an account; an anonymous caller covers nothing."""
    if user is None:
        return Scope(session=session, role=None)
    role = Role(user.role)
    if role in (Role.auditor, Role.admin):
        return Scope(session=session, role=role, everything=True)
    if role == Role.supervisor:
        region = session.get(Region, user.region_code) if user.region_code else None
        if region is None:
            return Scope(session=session, role=role)
        if region.level == RegionLevel.province:
            return Scope(session=session, role=role, everything=True)
        return Scope(session=session, role=role, root=region)
    if role == Role.issuer:
        return Scope(session=session, role=role, community_code=user.region_code, unit_code=user.unit_code)
    if role == Role.unit:
        return Scope(session=session, role=role, unit_code=user.unit_code)
    return Scope(session=session, role=role)


def check_account_fields(scope: Scope, *, role: Role, region: str | None, unit: str | None, region_field: str = "region", unit_field: str = "unit") -> None:
    """Every field of an account a manager creates lies inside the manager's scope:
    its role (supervisors register issuers only), its region and its unit. A field outside
    is refused by name; without this a county supervisor could give an issuer a unit of
    another city, and that issuer would read and decide that city's cases."""
    if scope.everything and scope.role == Role.admin:
        return
    if scope.role != Role.supervisor:
        raise Forbidden("only supervisors and admins create accounts", field="role")
    if role != Role.issuer:
        raise Forbidden(f"role: supervisors register issuers only, not {role.value}", field="role")
    # An unknown code is left to the account's own validation (422 naming the field).
    if region is not None and scope.session.get(Region, region) is not None and not scope.covers_region(region):
        raise Forbidden(f"{region_field}: {region} lies outside your area", field=region_field)
    if unit is not None and scope.session.get(Unit, unit) is not None and not scope.covers_unit(unit):
        raise Forbidden(f"{unit_field}: unit {unit} lies outside your area", field=unit_field)


def may_verify_card_number(user: User | None) -> bool:
    """A typed card number is looked up for a checkpoint operator only: the number alone proves
    nothing about holding the card, and would tell anyone who knew it the colour and the masked
    name. A scanned QR needs no account (its signature is the proof)."""
    return user is not None and user.active and Role(user.role) == Role.checkpoint
