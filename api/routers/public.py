"""Published rules and the public directory (R20): nothing here needs an account."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlmodel import select

from api.deps import NowDep, SessionDep
from cases.clock import SHANGHAI
from cases.comparison import rules as colour_rules
from cases.errors import NotFound
from cases.models import Region, RegionLevel, Unit
from cases.validation import load_regions

router = APIRouter(prefix="/api/v1", tags=["public"])


@router.get("/rules", summary="The colour rules in force (versioned, with effective dates)")
def rules(now: NowDep) -> dict[str, Any]:
    today = now.astimezone(SHANGHAI).date()
    return colour_rules.to_public_dict(today)


@router.get("/directory", summary="Per county: service account, app, complaint telephone, handling communities (R20)")
def directory(session: SessionDep, county: Annotated[str | None, Query(pattern=r"^\d{6}$", description="a county code, e.g. 370102")] = None) -> dict[str, Any]:
    tree = load_regions()
    counties = session.exec(select(Region).where(Region.level == RegionLevel.county).order_by(Region.code)).all()
    if county:
        counties = [c for c in counties if c.code == county]
        if not counties:
            raise NotFound(f"county {county} not found")
    out = []
    for c in counties:
        city = session.get(Region, c.parent_code)
        communities = session.exec(select(Region).where(Region.parent_code == c.code).order_by(Region.code)).all()
        out.append({
            "county": {"code": c.code, "name_zh": c.name_zh, "name_en": c.name_en},
            "city": {"code": city.code, "name_zh": city.name_zh, "name_en": city.name_en},
            "complaint_phone": c.complaint_phone,
            "communities": [{"code": m.code, "name_zh": m.name_zh, "name_en": m.name_en, "address": m.address, "phone": m.phone} for m in communities],
            "units": [{"code": u.code, "name": u.name} for u in session.exec(select(Unit).where(Unit.county_code == c.code))],
        })
    return {"service_account": tree["province"]["service_account"], "app": tree["province"]["app"], "counties": out}
