"""Accounts: admins create any; supervisors register the issuers of communities in their area (R18)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlmodel import select

from api.deps import NowDep, SessionDep, require
from cases.admin.log import record_admin_event
from cases.errors import Forbidden
from cases.models import Role, User
from cases.scope import check_account_fields, scope_for
from cases.seed import create_user

router = APIRouter(prefix="/api/v1/users", tags=["users"])
ManagerDep = Annotated[User, require(Role.admin, Role.supervisor)]


class UserCreate(BaseModel):
    username: str = Field(min_length=3, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]+$")
    password: str = Field(min_length=8, max_length=128)
    role: Role
    full_name: str = Field(default="", max_length=100)
    community: str | None = Field(default=None, pattern=r"^\d{12}$", description="issuer's community (village)")
    unit: str | None = Field(default=None, max_length=16, description="issuer's or unit account's unit")
    region: str | None = Field(default=None, pattern=r"^\d{6}(\d{6})?$", description="supervisor's or checkpoint's region")

    model_config = {"json_schema_extra": {"examples": [{"username": "huayuan-issuer3", "password": "a-long-passphrase", "role": "issuer", "full_name": "Li Ming", "community": "370202001001"}]}}


class UserPublic(BaseModel):
    id: str
    username: str
    role: Role
    full_name: str
    region_code: str | None
    unit_code: str | None
    active: bool


@router.post("", status_code=201, response_model=UserPublic, summary="Create an account (supervisors: issuers of their area only)")
def create(body: UserCreate, manager: ManagerDep, session: SessionDep, now: NowDep) -> User:
    # Every field of the new account lies inside the creator's scope: role, community, region, unit.
    scope = scope_for(session, manager)
    if manager.role == Role.supervisor and body.role == Role.issuer and not (body.community or body.region or body.unit):
        raise Forbidden("community: supervisors register issuers for communities or units in their own area", field="community")
    check_account_fields(scope, role=body.role, region=body.community, unit=body.unit, region_field="community")
    check_account_fields(scope, role=body.role, region=body.region, unit=None)
    user = create_user(session, username=body.username, password=body.password, role=body.role, at=now, region=body.community or body.region, unit=body.unit, full_name=body.full_name)
    record_admin_event(session, actor=manager.username, action="user_created", target=user.username, at=now,
                       data={"role": body.role.value, "region": body.community or body.region, "unit": body.unit})
    session.commit()
    return user


@router.get("", response_model=list[UserPublic], summary="Accounts in my area")
def list_users(manager: ManagerDep, session: SessionDep) -> list[User]:
    users = session.exec(select(User).order_by(User.username)).all()
    if manager.role == Role.admin:
        return list(users)
    scope = scope_for(session, manager)
    return [u for u in users if u.role == Role.issuer and (scope.covers_region(u.region_code) or scope.covers_unit(u.unit_code))]
