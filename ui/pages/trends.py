"""Trends for supervisors and the provincial office (issue 13): charts a person reads at a
glance, each with the same numbers as a table under it and a CSV link. The charts are
server-rendered SVG (ui/charts.py), so the page works with JavaScript disabled."""
from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from cases.errors import DomainError
from cases.models import Role
from cases.scope import scope_for
from cases.services import trends as trends_service
from ui.charts import Series, chart
from ui.i18n import _
from ui.pages.session import PageDep, PageRefused

router = APIRouter(include_in_schema=False)
SLA_HOURS = 6  # R11: the online SLA, drawn as a reference line on the decision-time chart


def _day(text: str | None, field: str, p) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise PageRefused(422, _("Invalid date"), _("{field}: expected a date YYYY-MM-DD, got {value}.").format(field=field, value=repr(text[:20])), p) from None


def _label(point, granularity: str) -> str:
    return point.start.strftime("%m-%d") if granularity == "day" else f"{point.start.strftime('%m-%d')}–{point.end.strftime('%m-%d')}"


@router.get("/supervisor/trends", response_class=HTMLResponse)
def trends_page(p: PageDep) -> HTMLResponse:
    user = p.staff(Role.supervisor, Role.auditor, Role.admin)
    q = p.request.query_params
    granularity = q.get("granularity") or "day"
    if granularity not in ("day", "week"):
        raise PageRefused(422, _("Invalid period"), _("granularity: day or week."), p)
    region = q.get("region") or None
    scope = scope_for(p.session, user)
    if not scope.everything and scope.root is None:
        raise PageRefused(403, _("No area"), _("This account has no region."), p)
    try:
        result = trends_service.trends(
            session=p.session, scope=scope, region=region, granularity=granularity,
            start=_day(q.get("from"), "from", p), end=_day(q.get("to"), "to", p), now=p.now,
        )
    except DomainError as exc:
        raise PageRefused(exc.status_code, _("Trends unavailable"), exc.message, p) from None
    params = {"region": result.region.code, "granularity": granularity, "from": result.start.isoformat(), "to": result.end.isoformat()}
    labels = [_label(pt, granularity) for pt in result.points]
    pts = result.points
    charts = {
        "rates": chart(
            title=_("Breach, auto-issue and rejection rates"), labels=labels, unit="%", y_max=None, table_id="trend-table",
            series=[Series(_("breach rate"), [x.breach_rate for x in pts]), Series(_("auto-issue rate"), [x.auto_issue_rate for x in pts]),
                    Series(_("rejection rate"), [x.rejection_rate for x in pts])],
        ),
        "times": chart(
            title=_("Decision time in working hours (median, p90)"), labels=labels, unit="h", table_id="trend-table",
            series=[Series(_("median"), [x.median_hours for x in pts]), Series(_("p90"), [x.p90_hours for x in pts])],
            reference=(SLA_HOURS, _("SLA of {hours} working hours (R11)").format(hours=SLA_HOURS)),
        ),
        "volume": chart(
            title=_("Decisions and complaints"), labels=labels, kind="bar", table_id="trend-table",
            series=[Series(_("decided"), [float(x.decided) for x in pts]), Series(_("complaints"), [float(x.complaints) for x in pts])],
        ),
    }
    return p.render(
        "trends.html", result=result, charts=charts, granularity=granularity, labels=labels,
        csv_url="/api/v1/supervision/trends.csv?" + urlencode(params), params=params,
        link=lambda **kw: "/supervisor/trends?" + urlencode({**params, **kw}),
    )
