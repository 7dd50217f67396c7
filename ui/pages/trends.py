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
from ui.pages.session import PageDep, PageRefused

router = APIRouter(include_in_schema=False)
SLA_HOURS = 6  # R11: the online SLA, drawn as a reference line on the decision-time chart


def _day(text: str | None, field: str, p) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise PageRefused(422, "Invalid date / 日期无效", f"{field}: expected a date YYYY-MM-DD, got {text[:20]!r}. {field}：日期格式应为 YYYY-MM-DD。", p) from None


def _label(point, granularity: str) -> str:
    return point.start.strftime("%m-%d") if granularity == "day" else f"{point.start.strftime('%m-%d')}–{point.end.strftime('%m-%d')}"


@router.get("/supervisor/trends", response_class=HTMLResponse)
def trends_page(p: PageDep) -> HTMLResponse:
    user = p.staff(Role.supervisor, Role.auditor, Role.admin)
    q = p.request.query_params
    granularity = q.get("granularity") or "day"
    if granularity not in ("day", "week"):
        raise PageRefused(422, "Invalid period / 周期无效", "granularity: day or week. 统计周期应为按日或按周。", p)
    region = q.get("region") or None
    scope = scope_for(p.session, user)
    if not scope.everything and scope.root is None:
        raise PageRefused(403, "No area / 无辖区", "This account has no region. 该账号未设置辖区。", p)
    try:
        result = trends_service.trends(
            session=p.session, scope=scope, region=region, granularity=granularity,
            start=_day(q.get("from"), "from", p), end=_day(q.get("to"), "to", p), now=p.now,
        )
    except DomainError as exc:
        raise PageRefused(exc.status_code, "Trends unavailable / 无法显示趋势", exc.message, p) from None
    params = {"region": result.region.code, "granularity": granularity, "from": result.start.isoformat(), "to": result.end.isoformat()}
    labels = [_label(pt, granularity) for pt in result.points]
    pts = result.points
    charts = {
        "rates": chart(
            title="Breach, auto-issue and rejection rates / 超时率、自动发码率、不予通过率", labels=labels, unit="%", y_max=None, table_id="trend-table",
            series=[Series("超时率 breach rate", [x.breach_rate for x in pts]), Series("自动发码率 auto-issue rate", [x.auto_issue_rate for x in pts]),
                    Series("不予通过率 rejection rate", [x.rejection_rate for x in pts])],
        ),
        "times": chart(
            title="Decision time in working hours (median, p90) / 办理用时（工作小时，中位数、90分位）", labels=labels, unit="h", table_id="trend-table",
            series=[Series("中位数 median", [x.median_hours for x in pts]), Series("90分位 p90", [x.p90_hours for x in pts])],
            reference=(SLA_HOURS, f"{SLA_HOURS} 工作小时时限 SLA (R11)"),
        ),
        "volume": chart(
            title="Decisions and complaints / 办结量与投诉量", labels=labels, kind="bar", table_id="trend-table",
            series=[Series("办结 decided", [float(x.decided) for x in pts]), Series("投诉 complaints", [float(x.complaints) for x in pts])],
        ),
    }
    return p.render(
        "trends.html", result=result, charts=charts, granularity=granularity, labels=labels,
        csv_url="/api/v1/supervision/trends.csv?" + urlencode(params), params=params,
        link=lambda **kw: "/supervisor/trends?" + urlencode({**params, **kw}),
    )
