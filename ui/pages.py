"""Server-rendered pages for applicants, issuers, supervisors, the provincial office and
checkpoint operators. Routes stay thin: parse, authorize, call a service, render.

Sessions: the `hp_session` cookie holds the same signed token as the API (HttpOnly,
SameSite=Lax). Every POST made with a signed-in session must carry a CSRF token: an
HMAC of that session token under a server secret (`csrf_token_for`), sent in the form
field `csrf_token` (or the `X-CSRF-Token` header). The sign-in form itself is protected
by a double-submit cookie (`hp_login`). Applicant forms (the daily health report, the answer to
a supplement request) are authorised by the case's access token alone, never the cookie, and
carry a hidden HMAC derived from it (`applicant_form_token`, where the choice is explained).
No page needs JavaScript for its core action.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from sqlalchemy import or_
from sqlmodel import Session, select
from starlette.datastructures import FormData

from api.deps import NowDep, SessionDep, SettingsDep
from cases.clock import SHANGHAI, aware
from cases.errors import DomainError, NotFound
from cases.models import (
    Application,
    AuditTask,
    CaseStatus,
    ComparisonRecord,
    ContactAttempt,
    IssuerSignIn,
    Notification,
    ProvincialAuditItem,
    Region,
    RegionLevel,
    ResponsibilityRecord,
    Role,
    Unit,
    User,
)
from cases.security import create_token, decode_token, verify_password
from cases.settings import Settings
from ui.render import templates

HERE = Path(__file__).parent
COOKIE = "hp_session"
LOGIN_COOKIE = "hp_login"
CSRF_FIELD = "csrf_token"
# Nothing is loaded from elsewhere: no CDN, no web fonts, no inline script or style.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",  # pages carry personal data and access tokens
}

router = APIRouter(include_in_schema=False)


# ------------------------------------------------------------------ words ---

STATUS_WORDS = {
    "submitted": ("Submitted", "已提交"),
    "declared": ("Declared", "已申报"),
    "compared": ("Compared", "已比对"),
    "observing": ("In isolation observation", "隔离观察中"),
    "awaiting_audit": ("Awaiting community/unit audit", "待社区（单位）审核"),
    "awaiting_applicant": ("Waiting for you to supply items", "待补充材料"),
    "approved": ("Approved", "已批准"),
    "rejected": ("Rejected", "未通过"),
    "auto_issued": ("Issued automatically after the deadline (R12)", "超时自动发码"),
    "completed": ("Completed", "已办结"),
}
COLOUR_WORDS = {
    "green": ("Green", "绿码", "Valid for passage across the province (with normal temperature).", "全省通行（体温正常）。"),
    "yellow": ("Yellow", "黄码", "Isolation observation: report your health daily; green after 14 days. Checkpoints do not let a yellow code pass.", "隔离观察：每日报告健康状况，14天后转绿码。黄码不予通行。"),
    "red": ("Red", "红码", "Not eligible; your community will contact you.", "暂不符合条件，社区将与您联系。"),
}
REASON_WORDS = {
    "forged": ("The signature does not verify: forged or altered code", "签名无效：伪造或篡改"),
    "malformed": ("Not a readable pass code or card number", "无法识别的码或卡号"),
    "unknown_key": ("Signed by a key this system does not trust", "签名密钥不可信"),
    "unknown_card": ("No pass has this card number", "无此卡号"),
    "expired": ("The pass has expired (valid 14 days)", "已过有效期（14天）"),
    "not_yet_valid": ("The pass is not valid yet", "尚未生效"),
    "revoked": ("The pass was revoked", "已撤销"),
    "yellow": ("Yellow code: in isolation observation", "黄码：隔离观察中"),
    "red": ("Red code", "红码"),
    "fever": ("Temperature at or above the fever threshold", "体温达到或超过发热标准"),
}
STEPS = (
    ("declaration", "Declaration", "申报"),
    ("comparison", "Big-data comparison", "大数据比对"),
    ("audit", "Community/unit audit", "社区（单位）审核"),
    ("pass", "Pass issued", "发码"),
)
STEP_OF_STATUS = {
    "submitted": 0, "declared": 1, "compared": 2, "observing": 2, "awaiting_audit": 2, "awaiting_applicant": 2,
    "approved": 3, "rejected": 3, "auto_issued": 3, "completed": 4,
}
ACTION_WORDS = {
    "submitted": ("Declaration submitted", "提交申报"),
    "declared": ("Declaration recorded", "申报已登记"),
    "compared": ("Big-data comparison done", "大数据比对完成"),
    "audit_assigned": ("Sent to the community/unit for audit", "转社区（单位）审核"),
    "awaiting_audit": ("Awaiting audit", "待审核"),
    "sla_started": ("Deadline clock started", "开始计时"),
    "sla_paused": ("Deadline clock paused", "暂停计时"),
    "sla_resumed": ("Deadline clock resumed", "恢复计时"),
    "claimed": ("An issuer took the case", "发放员已受理"),
    "contact_attempt": ("The issuer contacted you to verify", "发放员联系核实"),
    "supplement_requested": ("Items requested from you", "请补充材料"),
    "supplement_supplied": ("Items supplied", "已补充材料"),
    "decision_approve": ("Approved", "审核通过"),
    "decision_reject": ("Rejected", "审核未通过"),
    "decision_auto_issue": ("No opinion in time: issued automatically (R12)", "超时自动发码"),
    "auto_issue_scheduled": ("Automatic issue scheduled (R12)", "已安排自动发码"),
    "auto_issue_withheld": ("Automatic issue withheld: escalated", "不予自动发码，已上报"),
    "pass_issued": ("Pass issued", "已发码"),
    "pass_revoked": ("Pass revoked", "已撤销"),
    "observation_started": ("Isolation observation started", "开始隔离观察"),
    "daily_report": ("Daily health report", "每日健康报告"),
    "observation_reminder": ("Reminder: a daily report is missing", "提醒：尚未健康打卡"),
    "observation_day_missed": ("A day without a report went to your community", "漏报已转社区"),
    "observation_missed_escalated": ("Consecutive missed days reported to the community head", "连续漏报已报社区负责人"),
    "observation_abnormal_resolved": ("Your community recorded the outcome of an abnormal report", "社区已处理异常报告"),
    "observation_cleared": ("Observation ended with every day reported: green code (R9)", "观察期满无异常，转绿码"),
    "observation_needs_audit": ("Observation ended; your community audits the case", "观察期满，转社区审核"),
    "completed": ("Case completed", "已办结"),
}
CHANNEL_WORDS = {
    "wechat": ("Healthy Shandong Service Number (WeChat)", "健康山东服务号"),
    "app": ("Love Shandong app", "爱山东"),
    "counter": ("Community counter", "社区窗口"),
    "unit": ("Submitted by the employer", "单位代办"),
}
ID_TYPES = {
    "resident_id": ("Resident ID card", "居民身份证"),
    "passport": ("Passport", "护照"),
    "hmt_permit": ("HK/Macao/Taiwan permit", "港澳台通行证"),
}
SYMPTOM_WORDS = {
    "fever": ("Fever", "发热"),
    "cough": ("Cough", "咳嗽"),
    "sore_throat": ("Sore throat", "咽痛"),
    "fatigue": ("Fatigue", "乏力"),
    "shortness_of_breath": ("Shortness of breath", "呼吸困难"),
    "diarrhea": ("Diarrhoea", "腹泻"),
    "loss_of_taste_or_smell": ("Loss of taste or smell", "嗅觉味觉减退"),
}
CONTACT_METHODS = {"phone": ("Phone call", "电话"), "visit": ("Home visit", "上门"), "unit": ("Through the employer", "通过单位")}
OUTCOME_WORDS = {
    "clear": ("Clear", "未见异常"),
    "mismatch": ("Mismatch with records (R15)", "与记录不符"),
    "risk_area": ("Stay in a risk area", "到过风险地区"),
    "close_contact": ("Close contact", "密切接触者"),
    "confirmed": ("Confirmed / suspected", "确诊或疑似"),
    "incomplete": ("Incomplete (a source was unavailable)", "比对不完整"),
}
DAY_WORDS = {
    "reported": ("Reported", "已报告"),
    "late": ("Reported late", "已补报"),
    "missing": ("Missing", "未报告"),
    "abnormal": ("Abnormal", "异常"),
    "upcoming": ("Upcoming", "待报告"),
}
SLA_WORDS = {
    "green": ("On time", "正常"),
    "amber": ("Less than 2 working hours left", "剩余不足2个工作小时"),
    "red": ("Overdue", "已超时"),
    "grey": ("No clock", "未计时"),
}


# ---------------------------------------------------------------- helpers ---

def local(dt: datetime | str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored (UTC) timestamp in Asia/Shanghai local time."""
    if dt is None:
        return "—"
    if isinstance(dt, str):
        dt = datetime.fromisoformat(dt)
    return aware(dt).astimezone(SHANGHAI).strftime(fmt)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    s = abs(int(seconds))
    d, rest = divmod(s, 86400)
    h, rest = divmod(rest, 3600)
    m = rest // 60
    return (f"{d} d " if d else "") + (f"{h} h " if d or h else "") + f"{m} min"


def iso(dt: datetime | None) -> str:
    return "" if dt is None else aware(dt).isoformat()


def _value(x: Any) -> str:
    """An enum member or a plain string, as its string value."""
    return str(getattr(x, "value", x))


def csrf_token_for(session_token: str, settings: Settings) -> str:
    """The CSRF token of one session: an HMAC of the session token (so it changes with it)."""
    return hmac.new(settings.secret("csrf"), b"csrf|" + session_token.encode(), hashlib.sha256).hexdigest()


# Applicant forms (daily report, supplement answer) are authorised by the case's access token,
# never by the session cookie: the POST routes look the case up with `user=None`, so a signed-in
# staff member's browser carries no authority a cross-site form could borrow. A forger would need
# the access token itself. As the CSRF-equivalent we chose a hidden HMAC (`form_token`) of the
# form's purpose, the case id and the access token, over echoing the raw access token in the
# body: it is stateless like the session CSRF token (no cookie, which the WeChat and app webviews
# applicants use may drop), it is bound to one form (a report form's token does not submit a
# supplement), and it keeps one rule for this module: every state-changing form carries a
# server-derived hidden token checked in constant time. It adds nothing against someone who holds
# the access token: that link is the applicant's credential and must be kept like one.
FORM_TOKEN_FIELD = "form_token"


def applicant_form_token(case_id: str, access_token: str, purpose: str, settings: Settings) -> str:
    message = f"applicant|{purpose}|{case_id}|{access_token}".encode()
    return hmac.new(settings.secret("csrf"), message, hashlib.sha256).hexdigest()


class SignInRequired(Exception):
    def __init__(self, next_url: str):
        self.next_url = next_url


class PageRefused(Exception):
    """A 403/404 page. Given the `Page`, it keeps what the navigation needs (who is signed in,
    the sign-out form's CSRF token) as plain values: the handler renders after the request's
    store session has closed, when the `User` row can no longer be read."""

    def __init__(self, status: int, title: str, message: str, page: Page | None = None):
        self.status, self.title, self.message = status, title, message
        self.viewer: dict[str, Any] = {"user": None, "csrf_token": None}
        if page is not None and page.user is not None:
            self.viewer = {"user": SimpleNamespace(username=page.user.username, role=page.user.role), "csrf_token": page.csrf}


@dataclass
class Page:
    """What every route knows: the request, store, settings, clock and the signed-in user."""

    request: Request
    session: Session
    settings: Settings
    now: datetime
    user: User | None
    token: str | None  # the session token of the signed-in user (cookie only)

    @property
    def csrf(self) -> str | None:
        return csrf_token_for(self.token, self.settings) if self.token else None

    def check_csrf(self, form: FormData) -> None:
        """Any POST made with a signed-in session must carry the session's CSRF token."""
        if self.token is None:
            return
        sent = str(form.get(CSRF_FIELD) or self.request.headers.get("x-csrf-token") or "")
        if not hmac.compare_digest(sent.encode(), self.csrf.encode()):
            raise PageRefused(403, "Request refused / 请求被拒绝", "This form is missing its security token or it has expired. Reload the page and try again. 表单安全校验失败，请刷新页面后重试。", self)

    def staff(self, *roles: Role, form: FormData | None = None) -> User:
        if self.user is None:
            # After signing in, come back to the page (a POST's target cannot be re-sent as a GET).
            raise SignInRequired(str(self.request.url.path) if self.request.method == "GET" else "")
        if form is not None:
            self.check_csrf(form)
        if roles and self.user.role not in roles:
            raise PageRefused(403, "Not for your role / 无权访问", f"This page is for: {', '.join(r.value for r in roles)}.", self)
        return self.user

    def render(self, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        html = templates().get_template(name).render(
            user=self.user,
            csrf_token=self.csrf,
            now=self.now,
            path=self.request.url.path,
            local=local,
            duration=duration,
            iso=iso,
            **ctx,
        )
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def _cookie_user(request: Request, session: Session, settings: Settings, now: datetime) -> tuple[User | None, str | None]:
    # Only the cookie: a bearer header carries no ambient authority, and the CSRF token is tied to the cookie.
    token = request.cookies.get(COOKIE)
    if not token:
        return None, None
    payload = decode_token(token, settings=settings, at=now)
    if payload is None:
        return None, None
    user = session.get(User, payload.get("sub"))
    if user is None or not user.active:
        return None, None
    return user, token


def page(request: Request, session: SessionDep, settings: SettingsDep, now: NowDep) -> Page:
    user, token = _cookie_user(request, session, settings, now)
    return Page(request=request, session=session, settings=settings, now=now, user=user, token=token)


async def form_data(request: Request) -> FormData:
    return await request.form()


PageDep = Annotated[Page, Depends(page)]
FormDep = Annotated[FormData, Depends(form_data)]


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _safe_next(url: str | None) -> str | None:
    if url and url.startswith("/") and not url.startswith("//") and "\\" not in url and url.isprintable() and " " not in url:
        return url
    return None


def home_for(user: User) -> str:
    return {
        Role.issuer: "/issuer",
        Role.supervisor: "/supervisor",
        Role.auditor: "/supervisor",
        Role.admin: "/supervisor",
        Role.checkpoint: "/checkpoint",
        Role.unit: "/apply",
    }.get(user.role, "/")


# ------------------------------------------------------------- home, lookup ---

@router.get("/", response_class=HTMLResponse)
def home(p: PageDep) -> HTMLResponse:
    return p.render("home.html")


@router.get("/cases", response_class=HTMLResponse)
def find_case(p: PageDep, case: str | None = None, access_token: str | None = None) -> Response:
    """Check my case: the case number (or reference) and the access token received when applying."""
    if case and case.strip() and (access_token or p.user):
        query = "?" + urlencode({"access_token": access_token.strip()}) if access_token else ""
        return redirect(f"/cases/{quote(case.strip(), safe='')}{query}")
    return p.render("find_case.html", case=case or "", error="Enter the case number and your access token. 请输入案件编号和查询码。" if case else None)


# --------------------------------------------------------------- applying ---

FORM_TEXT_FIELDS = ("kind", "channel", "name", "id_type", "id_number", "phone", "nationality", "address", "community_code",
                    "unit_code", "had_contact", "contact_details", "temperature", "arrival_date", "arrival_port", "form_id")
MIN_ROWS = 4
MAX_ROWS = 20


def _communities(session: Session) -> list[dict[str, Any]]:
    """Communities grouped by city and county, for the <select>."""
    regions = {r.code: r for r in session.exec(select(Region))}
    groups: dict[str, dict[str, Any]] = {}
    for r in sorted(regions.values(), key=lambda r: r.code):
        if r.level != RegionLevel.community:
            continue
        county = regions.get(r.parent_code)
        city = regions.get(county.parent_code) if county else None
        label = f"{city.name_zh if city else ''}{county.name_zh if county else ''} {city.name_en if city else ''} · {county.name_en if county else ''}"
        groups.setdefault(label, {"label": label, "options": []})["options"].append({"code": r.code, "label": f"{r.name_zh} {r.name_en}"})
    return list(groups.values())


def _units(session: Session) -> list[Unit]:
    return list(session.exec(select(Unit).order_by(Unit.code)))


def _blank_values(p: Page, kind: str) -> dict[str, Any]:
    channel = {Role.unit: "unit", Role.issuer: "counter"}.get(p.user.role, "wechat") if p.user else "wechat"
    return {"kind": kind, "channel": channel, "id_type": "resident_id", "nationality": "CHN", "had_contact": "no",
            "symptoms": [], "pledge": False, "needs_verification": False, "stays": [], "form_id": secrets.token_urlsafe(16)}


def _example_values(kind: str, today) -> dict[str, Any]:
    from cases.declaration_schema import make_examples

    ex = make_examples(today)[kind]["value"]
    return {
        **{k: ex.get(k) or "" for k in ("kind", "channel", "name", "id_type", "id_number", "phone", "nationality", "address", "community_code", "unit_code", "arrival_date", "arrival_port")},
        "had_contact": "yes" if ex["close_contact"]["had_contact"] else "no",
        "contact_details": ex["close_contact"]["details"] or "",
        "symptoms": list(ex["health"]["symptoms"]),
        "temperature": str(ex["health"]["temperature"]),
        "pledge": bool(ex.get("pledge_self_isolation")),
        "needs_verification": False,
        "stays": [{"place": s["place"], "from_date": s["from_date"], "to_date": s["to_date"]} for s in ex["residence_history"]],
        "form_id": secrets.token_urlsafe(16),
    }


def _form_values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {k: str(form.get(k) or "").strip() for k in FORM_TEXT_FIELDS}
    values["symptoms"] = [str(s) for s in form.getlist("symptoms")]
    values["pledge"] = form.get("pledge") == "yes"
    values["needs_verification"] = form.get("needs_verification") == "yes"
    stays = []
    for i in range(MAX_ROWS):
        row = {k: str(form.get(f"stay_{k}_{i}") or "").strip() for k in ("place", "from_date", "to_date")}
        stays.append(row)
    while stays and not any(stays[-1].values()):
        stays.pop()
    values["stays"] = stays
    return values


def _number(text: str) -> float | str | None:
    if not text:
        return None
    try:
        return float(text.replace(",", "."))
    except ValueError:
        return text


def _content(values: dict[str, Any]) -> tuple[dict[str, Any], list[int]]:
    """The declaration as JSON (kept as the signed statement, R15) and, per declared stay, its form row."""
    rows = [i for i, s in enumerate(values["stays"]) if any(s.values())]
    arrival = values["kind"] == "arrival"
    content = {
        "kind": values["kind"],
        "channel": values["channel"],
        "name": values["name"],
        "id_type": values["id_type"],
        "id_number": values["id_number"],
        "phone": values["phone"],
        "nationality": values["nationality"] or "CHN",
        "address": values["address"],
        "community_code": values["community_code"],
        "unit_code": values["unit_code"] or None,
        "residence_history": [{k: values["stays"][i][k] or None for k in ("place", "from_date", "to_date")} for i in rows],
        "close_contact": {"had_contact": {"yes": True, "no": False}.get(values["had_contact"]), "details": values["contact_details"] or None},
        "health": {"symptoms": values["symptoms"], "temperature": _number(values["temperature"])},
        "pledge_self_isolation": True if values["pledge"] else (False if arrival else None),
        "arrival_date": values["arrival_date"] or None,
        "arrival_port": values["arrival_port"] or None,
        "needs_verification": values["needs_verification"],
    }
    return content, rows


# Model-level messages name no field: attach them by what they talk about.
_MESSAGE_FIELDS = (("pledge", "pledge"), ("arrival_date", "arrival_date"), ("residence history", "stays"), ("needs_verification", "needs_verification"), ("nationality", "nationality"), ("had_contact", "contact_details"))
_TOP_FIELDS = {"pledge_self_isolation": "pledge", "residence_history": "stays"}


def _friendly(err: dict[str, Any]) -> str:
    kind = err.get("type", "")
    if kind in ("string_too_short", "missing") or (kind in ("float_type", "bool_type", "date_type", "string_type", "enum") and err.get("input") in (None, "")):
        return "Required. 必填。"
    if kind == "float_parsing":
        return "Enter a number, e.g. 36.5. 请输入数字，如 36.5。"
    if kind.startswith("date_"):
        return "Enter a date as YYYY-MM-DD. 请输入日期（年-月-日）。"
    if kind == "enum":
        return "Choose one of the options. 请从选项中选择。"
    if kind == "too_long":
        return "Too many entries. 条目过多。"
    return str(err.get("msg", "")).removeprefix("Value error, ")


def _field_errors(exc: ValidationError, rows: list[int]) -> dict[str, str]:
    errors: dict[str, str] = {}
    for err in exc.errors():
        loc = list(err.get("loc", ()))
        message = _friendly(err)
        key = "_form"
        if loc and loc[0] == "residence_history" and len(loc) >= 2 and isinstance(loc[1], int) and loc[1] < len(rows):
            key = f"stay_{rows[loc[1]]}"
        elif loc and loc[0] == "health" and len(loc) >= 2:
            key = str(loc[1])
        elif loc and loc[0] == "close_contact":
            key = "had_contact" if len(loc) >= 2 and loc[1] == "had_contact" else "contact_details"
        elif loc:
            key = _TOP_FIELDS.get(str(loc[0]), str(loc[0]))
        else:
            lowered = message.lower()
            key = next((f for word, f in _MESSAGE_FIELDS if word.replace("_", " ") in lowered.replace("_", " ")), "_form")
        errors[key] = f"{errors[key]} {message}" if key in errors and message not in errors[key] else message
    return errors


FIELD_LABELS = {
    "kind": "Declaration type / 申报类型", "channel": "Channel / 申报渠道", "name": "Full name / 姓名", "id_type": "Document / 证件类型",
    "id_number": "Document number / 证件号码", "phone": "Mobile phone / 手机号码", "nationality": "Nationality / 国籍",
    "address": "Address / 住址", "community_code": "Community / 社区（村）", "unit_code": "Employer / 工作单位",
    "stays": "Residence history / 居住史", "had_contact": "Close contact / 密切接触史", "contact_details": "Close-contact details / 接触说明",
    "symptoms": "Symptoms / 症状", "temperature": "Body temperature / 体温", "arrival_date": "Date of arrival / 抵鲁日期",
    "arrival_port": "Port of arrival / 入鲁口岸", "pledge": "Pledge / 承诺", "needs_verification": "Needs verification / 需核实",
}


def _arrival_gaps(values: dict[str, Any]) -> list[tuple[str, str]]:
    """The schema checks an arrival's pledge, date and stays only once every field is valid;
    a form names them at the same time as the other errors, so one round trip fixes all."""
    if values["kind"] != "arrival":
        return []
    gaps = []
    if not values["pledge"]:
        gaps.append(("pledge", "An arrival declaration requires the pledge to self-isolate (R6). 来鲁人员须承诺居家隔离。"))
    if not values["arrival_date"]:
        gaps.append(("arrival_date", "An arrival declaration requires the date of arrival (R6). 请填写抵鲁日期。"))
    if not any(any(s.values()) for s in values["stays"]):
        gaps.append(("stays", "An arrival declaration requires the residence history of the last 14 days (R6). 请填写近14天居住史。"))
    return gaps


def _error_label(key: str) -> str:
    if key.startswith("stay_"):
        n = int(key.removeprefix("stay_")) + 1
        return f"Stay {n} / 居住史第{n}行"
    return FIELD_LABELS.get(key, key)


def _render_apply(p: Page, values: dict[str, Any], errors: dict[str, str] | None = None, status: int = 200, notice: str | None = None) -> HTMLResponse:
    from cases.declaration_schema import SYMPTOMS

    asked = p.request.query_params.get("rows", "")
    rows = min(MAX_ROWS, max(MIN_ROWS, len(values.get("stays", [])) + 1, int(asked) if asked.isdigit() else 0))
    stays = list(values.get("stays", [])) + [{"place": "", "from_date": "", "to_date": ""}] * rows
    labels = {key: _error_label(key) for key in (errors or {})}
    return p.render(
        "apply.html",
        status=status,
        v=values,
        stays=stays[:rows],
        errors=errors or {},
        error_labels=labels,
        notice=notice,
        communities=_communities(p.session),
        units=_units(p.session),
        symptoms=[(s, SYMPTOM_WORDS.get(s, (s, s))) for s in SYMPTOMS],
        channels=CHANNEL_WORDS,
        id_types=ID_TYPES,
        more_rows=min(MAX_ROWS, rows + 4),
        demo=p.settings.demo,
        today=p.now.astimezone(SHANGHAI).date().isoformat(),
    )


@router.get("/apply", response_class=HTMLResponse)
def apply_form(p: PageDep, kind: str = "arrival", example: str | None = None) -> HTMLResponse:
    kind = kind if kind in ("arrival", "standard") else "arrival"
    if example in ("arrival", "standard"):
        values = _example_values(example, p.now.astimezone(SHANGHAI).date())
    else:
        values = _blank_values(p, kind)
    return _render_apply(p, values)


@router.post("/apply", response_class=HTMLResponse)
def apply_submit(p: PageDep, form: FormDep) -> Response:
    from cases.declaration_schema import ApplicationCreate
    from cases.services.applications import submit_application

    p.check_csrf(form)
    values = _form_values(form)
    content, rows = _content(values)
    try:
        payload = ApplicationCreate.model_validate(content, context={"today": p.now})
    except ValidationError as exc:
        errors = _field_errors(exc, rows)
        for key, message in _arrival_gaps(values):
            errors.setdefault(key, message)
        return _render_apply(p, values, errors, status=422)
    submitted_by = p.user.id if p.user is not None and p.user.role in (Role.unit, Role.issuer) else "applicant"
    key = f"ui:{values['form_id']}" if values["form_id"] else None
    try:
        result = submit_application(session=p.session, payload=payload, content=content, settings=p.settings, at=p.now, idempotency_key=key, submitted_by=submitted_by)
        p.session.commit()
    except DomainError as exc:
        p.session.rollback()
        field = {"community_code": "community_code", "unit_code": "unit_code"}.get(exc.field or "", "_form")
        return _render_apply(p, values, {field: exc.message}, status=exc.status_code)
    app = result.application
    if result.access_token is None:
        # The same person already has an open case, applied from elsewhere: its link is not handed out here.
        return _render_apply(p, values, status=409, notice=f"An application for this person is already open (case {app.reference}). Use the link you received when you applied, or ask your community. 此人已有在办申请（{app.reference}），请使用申请时获得的链接查询，或咨询所在社区。")
    return redirect(f"/cases/{app.id}?" + urlencode({"access_token": result.access_token, "new": "1" if result.created else "0"}))


# ------------------------------------------------------------- case page ---

def _steps(status: str) -> list[dict[str, Any]]:
    current = STEP_OF_STATUS.get(status, 0)
    return [{"key": k, "en": en, "zh": zh, "state": "done" if i < current else "current" if i == current else "todo"} for i, (k, en, zh) in enumerate(STEPS)]


def _sla_left(session: Session, settings: Settings, app: Application, now: datetime) -> dict[str, Any] | None:
    from api.routers.issuers import task_view
    from cases.services import sla_service

    task = session.exec(select(AuditTask).where(AuditTask.application_id == app.id)).first()
    if task is None or app.sla_due_at is None:
        return None
    view = task_view(task, app, now, sla_service.calendar(session, settings), 0)
    return {"seconds": view["time_left_seconds"], "colour": view["sla_colour"]}


CASE_NOT_FOUND = ("Case not found / 未找到案件", "No case matches this number and access token. Check the link you received when you applied. 未找到与该编号和查询码对应的案件，请核对申请时获得的链接。")
CASE_DONE = ("reported", "reported_abnormal", "supplied")


def _applicant_token(p: Page, app: Application, access_token: str | None) -> str | None:
    """The access token if it opens this case (the viewer is the applicant), else None."""
    from cases.services.applications import token_matches

    return access_token if access_token and token_matches(app, access_token, settings=p.settings) else None


def _case_url(app: Application, access_token: str | None, **params: str) -> str:
    query = {"access_token": access_token, **params} if access_token else params
    return f"/cases/{quote(app.id, safe='')}" + ("?" + urlencode(query) if query else "")


def _observation_view(p: Page, app: Application, token: str | None) -> dict[str, Any] | None:
    """R8/R9 for the case page: the period, each day's status, and what the applicant can report now."""
    from cases.services import observation

    if _value(app.kind) != "arrival" or (app.observation_ends_at is None and app.status not in observation.REPORTABLE):
        return None
    view = observation.status(p.session, app, now=p.now, settings=p.settings)
    open_ = app.status in observation.REPORTABLE and p.now < view["period"]["ends_at"]
    today = next((d for d in view["days"] if d["today"]), None)
    can_report = token is not None and open_
    report_url = f"/cases/{quote(app.id, safe='')}/report?" + urlencode({"access_token": token}) if token else None
    view.update(
        open=open_,
        today_row=today,
        report_url=report_url,
        report_today=can_report and today is not None and today["report"] is None,
        # Missed days can still be reported (marked late); they count for the end of the period.
        late_days=[d for d in view["days"] if d["status"] == "missing"] if can_report else [],
    )
    return view


def _render_case(
    p: Page,
    app: Application,
    access_token: str | None,
    *,
    new: bool = False,
    done: str | None = None,
    supplement_errors: dict[str, str] | None = None,
    supplement_values: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    from api.routers.applications import case_view

    view = case_view(p.session, app, p.settings, p.now)
    pass_ = view["pass"]
    q = ("?" + urlencode({"access_token": access_token})) if access_token else ""
    links = None
    if pass_ is not None:
        links = {
            "qr": pass_.qr_url + q,
            "card": pass_.card_url + q,
            "pdf": pass_.card_url + (q + "&" if q else "?") + "format=pdf",
            "seconds_left": (aware(pass_.valid_until) - p.now).total_seconds(),
        }
    county = p.session.get(Region, app.county_code)
    staff_task = None
    if p.user is not None and p.user.role == Role.issuer and view["audit"]:
        staff_task = view["audit"]["task_id"]
    status_key = _value(view["status"])
    token = _applicant_token(p, app, access_token)
    supplement = None
    if token and status_key == "awaiting_applicant" and view["audit"] and view["audit"]["missing_items"]:
        supplement = {
            "requested": list(view["audit"]["missing_items"]),
            "action": f"/cases/{quote(app.id, safe='')}/supplement?" + urlencode({"access_token": token}),
            "form_token": applicant_form_token(app.id, token, "supplement", p.settings),
            "errors": {k: v for k, v in (supplement_errors or {}).items() if k != "_form"},
            "answers": supplement_values or {},
        }
    return p.render(
        "case.html",
        status=status,
        c=view,
        pass_=pass_,
        colour=_value(pass_.colour) if pass_ is not None else None,
        status_key=status_key,
        kind_key=_value(view["kind"]),
        channel_key=_value(view["channel"]),
        links=links,
        steps=_steps(status_key),
        sla_left=_sla_left(p.session, p.settings, app, p.now),
        county=county,
        new=new,
        done=done if done in CASE_DONE else None,
        access_token=access_token,
        staff_task=staff_task,
        obs=_observation_view(p, app, token),
        supplement=supplement,
        supplement_notice=(supplement_errors or {}).get("_form"),
        words={"status": STATUS_WORDS, "colour": COLOUR_WORDS, "action": ACTION_WORDS, "channel": CHANNEL_WORDS, "outcome": OUTCOME_WORDS, "sla": SLA_WORDS, "day": DAY_WORDS},
    )


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(case_id: str, p: PageDep, access_token: str | None = None, new: str | None = None, done: str | None = None) -> HTMLResponse:
    from cases.services.access import load_case_for_reader

    try:
        app = load_case_for_reader(p.session, case_id, user=p.user, token=access_token, settings=p.settings)
    except NotFound:
        return p.render("error.html", status=404, title=CASE_NOT_FOUND[0], message=CASE_NOT_FOUND[1])
    return _render_case(p, app, access_token, new=new == "1", done=done)


# ------------------------------------------------------- applicant forms ---

def _applicant_case(p: Page, case_id: str, access_token: str | None) -> tuple[Application, str]:
    """The case this access token opens. The session cookie is deliberately not consulted
    (see `applicant_form_token`): these pages act for the applicant only."""
    from cases.services.access import load_case_for_reader

    try:
        app = load_case_for_reader(p.session, case_id, user=None, token=access_token, settings=p.settings)
    except NotFound:
        raise PageRefused(404, *CASE_NOT_FOUND, p) from None
    return app, access_token or ""


def _check_applicant_form(p: Page, form: FormData, app: Application, token: str, purpose: str) -> None:
    p.check_csrf(form)  # a signed-in browser's POST carries its session token too, as everywhere
    sent = str(form.get(FORM_TOKEN_FIELD) or "")
    if not hmac.compare_digest(sent.encode(), applicant_form_token(app.id, token, purpose, p.settings).encode()):
        raise PageRefused(403, "Request refused / 请求被拒绝", "This form is missing its security token. Open it again from your case page and resend. 表单安全校验失败，请从案件页面重新打开表单后提交。", p)


REPORT_LABELS = {
    "day": "Day reported / 报告日期",
    "temperature": "Body temperature / 体温",
    "symptoms": "Symptoms / 症状",
    "location_confirmed": "Location / 所在地点",
}


def _report_message(exc: DomainError, day: date) -> tuple[str, str]:
    """A service error as (form field, bilingual message); unknown ones keep the service's words."""
    text = exc.message
    if "exists already" in text:
        return "day", f"A report for {day.isoformat()} was received already: one report a day (R8). {day.isoformat()} 已报告，每天只能报告一次。"
    if "not in isolation observation" in text:
        return "_form", "This case is not in isolation observation, so there is nothing to report. 本案不在隔离观察期，无需报告。"
    if "period ended" in text:
        return "_form", "The observation period has ended; reports are closed. 隔离观察期已结束，不再接收报告。"
    if "future day" in text:
        return "day", "You cannot report for a day that has not come yet. 不能报告未来日期。"
    if "observation period" in text:
        return "day", f"Choose a day of your observation period. 请选择观察期内的日期。 ({text})"
    return (exc.field if exc.field in REPORT_LABELS else "_form"), text


def _render_report(p: Page, app: Application, token: str, *, values: dict[str, Any] | None = None, errors: dict[str, str] | None = None, status: int = 200) -> HTMLResponse:
    from cases.declaration_schema import SYMPTOMS
    from cases.services import observation

    obs = observation.status(p.session, app, now=p.now, settings=p.settings)
    today = p.now.astimezone(SHANGHAI).date()
    days = [d for d in obs["days"] if d["day"] <= today]
    open_ = app.status in observation.REPORTABLE and p.now < obs["period"]["ends_at"]
    if values is None:
        wanted = p.request.query_params.get("day", "")
        chosen = wanted if any(d["day"].isoformat() == wanted for d in days) else today.isoformat()
        values = {"day": chosen, "temperature": "", "symptoms": [], "location": ""}
    errors = errors or {}
    return p.render(
        "report.html",
        status=status,
        reference=app.reference,
        obs=obs,
        days=days,
        open=open_,
        today=today,
        v=values,
        errors=errors,
        error_labels={k: REPORT_LABELS.get(k, k) for k in errors},
        symptoms=[(s, SYMPTOM_WORDS.get(s, (s, s))) for s in SYMPTOMS],
        action=f"/cases/{quote(app.id, safe='')}/report?" + urlencode({"access_token": token}),
        form_token=applicant_form_token(app.id, token, "report", p.settings),
        case_url=_case_url(app, token),
        fever=p.settings.fever_threshold,
        words={"day": DAY_WORDS},
    )


def _arrival_case(p: Page, case_id: str, access_token: str | None) -> tuple[Application, str]:
    app, token = _applicant_case(p, case_id, access_token)
    if _value(app.kind) != "arrival":
        raise PageRefused(404, "No isolation observation / 无隔离观察", "Daily health reports are for arrivals in isolation observation; this case has none. 每日健康报告仅适用于隔离观察中的来鲁人员。", p)
    return app, token


@router.get("/cases/{case_id}/report", response_class=HTMLResponse)
def report_form(case_id: str, p: PageDep, access_token: str | None = None) -> HTMLResponse:
    """R8: the daily health report of an arrival in isolation observation (mobile first, no script)."""
    app, token = _arrival_case(p, case_id, access_token)
    return _render_report(p, app, token)


@router.post("/cases/{case_id}/report", response_class=HTMLResponse)
def report_submit(case_id: str, p: PageDep, form: FormDep, access_token: str | None = None) -> Response:
    from api.routers.observation import ReportIn
    from cases.services import observation

    app, token = _arrival_case(p, case_id, access_token)
    _check_applicant_form(p, form, app, token, "report")
    values = {
        "day": str(form.get("day") or "").strip() or p.now.astimezone(SHANGHAI).date().isoformat(),  # default today
        "temperature": str(form.get("temperature") or "").strip(),
        "symptoms": [str(s) for s in form.getlist("symptoms")],
        "location": str(form.get("location_confirmed") or ""),
    }
    data = {
        "day": values["day"],
        "temperature": _number(values["temperature"]),
        "symptoms": values["symptoms"],
        "location_confirmed": {"yes": True, "no": False}.get(values["location"]),
    }
    try:
        body = ReportIn.model_validate(data)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for err in exc.errors():
            loc = err.get("loc") or ("_form",)
            key = str(loc[0]) if str(loc[0]) in REPORT_LABELS else "_form"
            errors.setdefault(key, _friendly(err))
        return _render_report(p, app, token, values=values, errors=errors, status=422)
    day = body.day
    try:
        row = observation.report(session=p.session, application=app, day=day, temperature=body.temperature, symptoms=body.symptoms, location_confirmed=body.location_confirmed, at=p.now, settings=p.settings)
        abnormal = row.abnormal
        p.session.commit()
    except DomainError as exc:
        p.session.rollback()
        key, message = _report_message(exc, day)
        return _render_report(p, app, token, values=values, errors={key: message}, status=exc.status_code)
    return redirect(_case_url(app, token, done="reported_abnormal" if abnormal else "reported"))


MAX_SUPPLEMENT_ITEMS = 20  # as many as an issuer can request


@router.post("/cases/{case_id}/supplement", response_class=HTMLResponse)
def supplement_submit(case_id: str, p: PageDep, form: FormDep, access_token: str | None = None) -> Response:
    """R19: the applicant answers the items the issuer asked for; the deadline clock resumes."""
    from cases.services.audit import supply

    app, token = _applicant_case(p, case_id, access_token)
    _check_applicant_form(p, form, app, token, "supplement")
    task = p.session.exec(select(AuditTask).where(AuditTask.application_id == app.id)).first()
    requested = list(task.missing_items) if task is not None else []
    # Each field names its item (hidden), so a form rendered before the issuer changed the request
    # cannot answer the wrong item; names not requested now are dropped, never stored.
    values: dict[str, str] = {}
    for i in range(MAX_SUPPLEMENT_ITEMS):
        name = form.get(f"item_name_{i}")
        if name is None:
            continue
        if str(name) in requested:
            values[str(name)] = str(form.get(f"item_{i}") or "").strip()
    errors: dict[str, str] = {}
    for name in requested:
        if name in values and not values[name]:
            errors[name] = "Required. 必填。"
        elif len(values.get(name, "")) > 2000:
            errors[name] = "At most 2000 characters. 不超过2000字。"
    if errors:
        return _render_case(p, app, token, supplement_errors=errors, supplement_values=values, status=422)
    try:
        supply(session=p.session, application=app, items=values, at=p.now, settings=p.settings)
        p.session.commit()
    except DomainError as exc:
        p.session.rollback()
        if exc.status_code == 409:
            message = "Nothing is requested from you now (perhaps you have sent it already). 目前无需补充材料（可能已经提交）。"
        else:
            message = f"{exc.message}. Please answer every requested item. 请填写所有要求补充的材料。"
        return _render_case(p, app, token, supplement_errors={"_form": message}, supplement_values=values, status=exc.status_code)
    return redirect(_case_url(app, token, done="supplied"))


# ------------------------------------------------------- rules, directory ---

@router.get("/rules", response_class=HTMLResponse)
def rules_page(p: PageDep) -> HTMLResponse:
    from cases.comparison import rules as colour_rules

    published = colour_rules.to_public_dict(p.now.astimezone(SHANGHAI).date())
    current = next(r for r in published["rulesets"] if r["version"] == published["current"])
    return p.render("rules.html", published=published, current=current, words={"outcome": OUTCOME_WORDS, "colour": COLOUR_WORDS}, fever=p.settings.fever_threshold, validity=p.settings.pass_validity_days)


@router.get("/directory", response_class=HTMLResponse)
def directory_page(p: PageDep, county: str | None = None) -> HTMLResponse:
    from api.routers.public import directory

    county = county if county and county.isdigit() and len(county) == 6 else None
    try:
        data = directory(session=p.session, county=county)
    except NotFound as exc:
        data, error = directory(session=p.session, county=None), exc.message
    else:
        error = None
    all_counties = directory(session=p.session, county=None)["counties"] if county else data["counties"]
    cities: dict[str, dict[str, Any]] = {}
    for c in data["counties"]:
        cities.setdefault(c["city"]["code"], {"city": c["city"], "counties": []})["counties"].append(c)
    return p.render("directory.html", data=data, cities=list(cities.values()), all_counties=all_counties, county=county, error=error)


# ----------------------------------------------------------- sign in, out ---

def _login_page(p: Page, *, username: str = "", error: str | None = None, status: int = 200, next_url: str | None = None) -> HTMLResponse:
    nonce = secrets.token_urlsafe(24)
    resp = p.render("login.html", status=status, username=username, error=error, nonce=nonce, next_url=_safe_next(next_url) or "")
    resp.set_cookie(LOGIN_COOKIE, nonce, max_age=3600, httponly=True, samesite="strict", secure=p.request.url.scheme == "https", path="/login")
    return resp


@router.get("/login", response_class=HTMLResponse)
def login_form(p: PageDep, next: str | None = None) -> HTMLResponse:
    return _login_page(p, next_url=next)


@router.post("/login", response_class=HTMLResponse)
def login_submit(p: PageDep, form: FormDep) -> Response:
    username = str(form.get("username") or "").strip()[:64]
    password = str(form.get("password") or "")
    next_url = _safe_next(str(form.get("next") or ""))
    cookie_nonce = p.request.cookies.get(LOGIN_COOKIE, "")
    sent_nonce = str(form.get("login_token") or "")
    if not cookie_nonce or not hmac.compare_digest(cookie_nonce.encode(), sent_nonce.encode()):
        return _login_page(p, username=username, error="The sign-in form expired; please try again. 登录表单已过期，请重试。", status=403, next_url=next_url)
    user = p.session.exec(select(User).where(User.username == username)).first()
    if user is None or not user.active or not verify_password(password, user.password_hash):
        return _login_page(p, username=username, error="Wrong username or password. 用户名或密码错误。", status=401, next_url=next_url)
    token = create_token(user_id=user.id, role=user.role.value, at=p.now, settings=p.settings)
    resp = redirect(next_url or home_for(user))
    resp.set_cookie(COOKIE, token, max_age=p.settings.access_token_minutes * 60, httponly=True, samesite="lax", secure=p.request.url.scheme == "https", path="/")
    resp.delete_cookie(LOGIN_COOKIE, path="/login")
    return resp


@router.get("/logout", response_class=HTMLResponse)
def logout_form(p: PageDep) -> Response:
    if p.user is None:
        return redirect("/")
    return p.render("logout.html")


@router.post("/logout")
def logout(p: PageDep, form: FormDep) -> Response:
    p.check_csrf(form)
    resp = redirect("/")
    resp.delete_cookie(COOKIE, path="/")
    return resp


# ---------------------------------------------------------------- issuers ---

def _signed_in_today(session: Session, user: User, now: datetime) -> IssuerSignIn | None:
    day = now.astimezone(SHANGHAI).date()
    return session.exec(select(IssuerSignIn).where(IssuerSignIn.user_id == user.id, IssuerSignIn.work_date == day)).first()


def _holder_name(session: Session, user: User) -> str:
    if user.unit_code:
        unit = session.get(Unit, user.unit_code)
        return unit.name if unit else user.unit_code
    region = session.get(Region, user.region_code) if user.region_code else None
    return f"{region.name_zh} {region.name_en}" if region else (user.region_code or "")


@router.get("/issuer", response_class=HTMLResponse)
def issuer_queue(p: PageDep, done: str | None = None) -> HTMLResponse:
    from api.routers.issuers import task_view
    from cases.services import audit, sla_service

    user = p.staff(Role.issuer)
    cal = sla_service.calendar(p.session, p.settings)
    items = []
    for task, app in audit.queue(session=p.session, user=user):
        contacts = len(p.session.exec(select(ContactAttempt.id).where(ContactAttempt.audit_task_id == task.id)).all())
        view = task_view(task, app, p.now, cal, contacts)
        record = p.session.exec(select(ComparisonRecord).where(ComparisonRecord.application_id == app.id)).first()
        view["hits"] = len(record.hits) if record else 0
        view["mine"] = task.claimed_by == user.id
        view.update(channel=_value(view["channel"]), kind=_value(view["kind"]), status=_value(view["status"]))
        items.append(view)
    items.sort(key=lambda v: (v["time_left_seconds"] is None, v["time_left_seconds"] if v["time_left_seconds"] is not None else 0))
    return p.render(
        "issuer_queue.html",
        items=items,
        signed_in=_signed_in_today(p.session, user, p.now),
        holder=_holder_name(p.session, user),
        done=done if done in ("approve", "reject", "signed_in") else None,
        words={"sla": SLA_WORDS, "channel": CHANNEL_WORDS, "outcome": OUTCOME_WORDS},
    )


@router.post("/issuer/sign-in")
def issuer_sign_in(p: PageDep, form: FormDep) -> Response:
    from api.routers.issuers import sign_in

    user = p.staff(Role.issuer, form=form)
    sign_in(user=user, session=p.session, now=p.now)
    return redirect("/issuer?done=signed_in")


def _task_for(p: Page, task_id: str, user: User) -> AuditTask:
    from cases.services import audit

    task = p.session.get(AuditTask, task_id)
    if task is None or not audit.can_work(user, task):
        raise PageRefused(404, "Task not found / 未找到任务", "No task with this number is in your queue.", p)
    return task


def _render_task(p: Page, task: AuditTask, *, errors: dict[str, str] | None = None, status: int = 200, form_values: dict[str, str] | None = None, done: str | None = None) -> HTMLResponse:
    from api.routers.applications import case_view
    from api.routers.issuers import task_view
    from cases.services import audit, sla_service
    from cases.services.applications import latest_declaration
    from cases.models import Applicant

    app = p.session.get(Application, task.application_id)
    contacts = list(p.session.exec(select(ContactAttempt).where(ContactAttempt.audit_task_id == task.id).order_by(ContactAttempt.at)))
    view = task_view(task, app, p.now, sla_service.calendar(p.session, p.settings), len(contacts))
    case = case_view(p.session, app, p.settings, p.now)
    declaration = latest_declaration(p.session, app.id)
    applicant = p.session.get(Applicant, app.applicant_id)
    claimer = p.session.get(User, task.claimed_by) if task.claimed_by else None
    return p.render(
        "issuer_task.html",
        status=status,
        t=view,
        task=task,
        c=case,
        d=declaration.content if declaration else {},
        applicant=applicant,
        claimer=claimer,
        contacts=contacts,
        errors=errors or {},
        fv=form_values or {},
        done=done,
        reasons=audit.REJECTION_REASONS,
        forbidden=audit.FORBIDDEN_REASONS,
        words={"sla": SLA_WORDS, "channel": CHANNEL_WORDS, "outcome": OUTCOME_WORDS, "status": STATUS_WORDS, "action": ACTION_WORDS, "contact": CONTACT_METHODS, "symptom": SYMPTOM_WORDS, "id_type": ID_TYPES},
    )


@router.get("/issuer/tasks/{task_id}", response_class=HTMLResponse)
def issuer_task(task_id: str, p: PageDep, done: str | None = None) -> HTMLResponse:
    user = p.staff(Role.issuer)
    return _render_task(p, _task_for(p, task_id, user), done=done if done in ("claimed", "supplement", "contact") else None)


@router.post("/issuer/tasks/{task_id}/claim")
def issuer_claim(task_id: str, p: PageDep, form: FormDep) -> Response:
    from cases.services import audit

    user = p.staff(Role.issuer, form=form)
    task = _task_for(p, task_id, user)
    try:
        audit.claim(session=p.session, task_id=task.id, user=user, at=p.now)
        p.session.commit()
    except DomainError as exc:
        p.session.rollback()
        return _render_task(p, _task_for(p, task_id, user), errors={"claim": exc.message}, status=exc.status_code)
    return redirect(f"/issuer/tasks/{task_id}?done=claimed")


@router.post("/issuer/tasks/{task_id}/decision")
def issuer_decide(task_id: str, p: PageDep, form: FormDep) -> Response:
    from cases.services import audit

    user = p.staff(Role.issuer, form=form)
    task = _task_for(p, task_id, user)
    action = str(form.get("action") or "")
    reason_code = str(form.get("reason_code") or "").strip() or None
    explanation = str(form.get("explanation") or "").strip() or None
    method = str(form.get("contact_method") or "").strip() or None
    items = [line.strip() for line in str(form.get("missing_items") or "").replace("；", "\n").replace(";", "\n").splitlines() if line.strip()]
    values = {"action": action, "reason_code": reason_code or "", "explanation": explanation or "", "contact_method": method or "", "missing_items": "\n".join(items)}
    error_key = {"reject": "reject", "request_supplement": "supplement", "verify_contact": "contact"}.get(action, "approve")
    problem = None
    if explanation and len(explanation) > 2000:
        problem = "The explanation is limited to 2000 characters. 说明不超过2000字。"
    elif action == "verify_contact" and method is not None and method not in CONTACT_METHODS:
        problem = f"Contact method must be one of {', '.join(CONTACT_METHODS)}."
    elif action == "request_supplement" and (len(items) > 20 or any(len(i) > 100 for i in items)):
        problem = "At most 20 items of at most 100 characters each. 最多20项，每项不超过100字。"
    if problem:
        return _render_task(p, task, errors={error_key: problem}, status=422, form_values=values)
    try:
        audit.decide(session=p.session, task_id=task.id, user=user, action=action, at=p.now, settings=p.settings, reason_code=reason_code, explanation=explanation, missing_items=items or None, contact_method=method)
        p.session.commit()
    except DomainError as exc:
        p.session.rollback()
        message = exc.message + (f" (rule {exc.rule})" if exc.rule and exc.rule not in exc.message else "")
        return _render_task(p, _task_for(p, task_id, user), errors={error_key: message, "field": exc.field or ""}, status=exc.status_code, form_values=values)
    if action in ("approve", "reject"):
        return redirect(f"/issuer?done={action}")
    return redirect(f"/issuer/tasks/{task_id}?done={'supplement' if action == 'request_supplement' else 'contact'}")


# ------------------------------------------------------------ supervisors ---

def _region_prefix(code: str) -> str:
    """GB/T 2260 style: province 37, city 3701, county 370102, community 12 digits."""
    if len(code) == 6 and code.endswith("0000"):
        return code[:2]
    if len(code) == 6 and code.endswith("00"):
        return code[:4]
    return code


def supervisor_overview(session: Session, user: User, *, now: datetime, settings: Settings) -> dict[str, Any]:
    """At-risk and breached cases, notifications and issuer coverage for a supervisor's area,
    scoped like `cases.services.access.can_read` (province-wide for the provincial office)."""
    from api.routers.issuers import task_view
    from cases.services import sla_service

    province_wide = user.role in (Role.auditor, Role.admin) or user.region_code == "370000"
    scope = user.region_code or ""

    def scoped(query):
        if province_wide:
            return query
        return query.where(or_(Application.community_code == scope, Application.county_code == scope, Application.city_code == scope))

    cal = sla_service.calendar(session, settings)
    open_rows = session.exec(scoped(
        select(AuditTask, Application).join(Application, Application.id == AuditTask.application_id)
        .where(Application.status.in_([CaseStatus.awaiting_audit, CaseStatus.awaiting_applicant]), Application.sla_due_at != None, Application.breached_at == None)  # noqa: E711
    )).all()
    at_risk = []
    for task, app in open_rows:
        view = task_view(task, app, now, cal, 0)
        if view["sla_colour"] in ("amber", "red"):
            at_risk.append(view)
    at_risk.sort(key=lambda v: v["time_left_seconds"] or 0)

    breached = []
    for app, record in session.exec(scoped(
        select(Application, ResponsibilityRecord).join(ResponsibilityRecord, ResponsibilityRecord.application_id == Application.id, isouter=True)
        .where(Application.breached_at != None)  # noqa: E711
    ).order_by(Application.breached_at.desc()).limit(200)).all():
        holder = None
        if record is not None:
            holder = session.get(Region, record.responsible_code) or session.get(Unit, record.responsible_code)
        breached.append({"app": app, "record": record, "holder": holder, "late_seconds": (now - aware(app.breached_at)).total_seconds()})

    if province_wide:
        notes_q = select(Notification).where(or_(Notification.recipient_level == "province", Notification.recipient_code == "370000"))
    else:
        notes_q = select(Notification).where(Notification.recipient_code == scope)
    notifications = list(session.exec(notes_q.order_by(Notification.created_at.desc()).limit(50)))

    # R18: communities in the area with no registered issuer, or none signed in today.
    prefix = "37" if province_wide else _region_prefix(scope)
    day = now.astimezone(SHANGHAI).date()
    communities = [r for r in session.exec(select(Region).where(Region.level == RegionLevel.community, Region.code.startswith(prefix)).order_by(Region.code))]
    issuers = list(session.exec(select(User).where(User.role == Role.issuer, User.active == True, User.region_code.startswith(prefix))))  # noqa: E712
    signed = {row.user_id for row in session.exec(select(IssuerSignIn).where(IssuerSignIn.work_date == day))}
    registered: dict[str, int] = {}
    present: dict[str, int] = {}
    for u in issuers:
        registered[u.region_code] = registered.get(u.region_code, 0) + 1
        if u.id in signed:
            present[u.region_code] = present.get(u.region_code, 0) + 1
    uncovered = [{"region": r, "registered": registered.get(r.code, 0)} for r in communities if not present.get(r.code)]

    audit_items = []
    if user.role in (Role.auditor, Role.admin):
        audit_items = list(session.exec(select(ProvincialAuditItem).where(ProvincialAuditItem.closed_at == None).order_by(ProvincialAuditItem.created_at.desc()).limit(50)))  # noqa: E711
    region = session.get(Region, scope) if scope else None
    return {"at_risk": at_risk, "breached": breached, "notifications": notifications, "uncovered": uncovered, "communities": len(communities), "audit_items": audit_items, "region": region, "province_wide": province_wide}


@router.get("/supervisor", response_class=HTMLResponse)
def supervisor_page(p: PageDep) -> HTMLResponse:
    user = p.staff(Role.supervisor, Role.auditor, Role.admin)
    data = supervisor_overview(p.session, user, now=p.now, settings=p.settings)
    return p.render("supervisor.html", **data, words={"sla": SLA_WORDS, "status": STATUS_WORDS, "channel": CHANNEL_WORDS})


# ------------------------------------------------------------- checkpoint ---

def _render_checkpoint(p: Page, *, values: dict[str, str] | None = None, errors: dict[str, str] | None = None, decision=None, status: int = 200) -> HTMLResponse:
    return p.render("checkpoint.html", status=status, v=values or {"mode": "qr"}, errors=errors or {}, d=decision, reason_words=REASON_WORDS, colour_words=COLOUR_WORDS, fever=p.settings.fever_threshold)


@router.get("/checkpoint", response_class=HTMLResponse)
def checkpoint_form(p: PageDep) -> HTMLResponse:
    return _render_checkpoint(p)


@router.post("/checkpoint", response_class=HTMLResponse)
def checkpoint_verify(p: PageDep, form: FormDep) -> HTMLResponse:
    from cases.services import checkpoint

    p.check_csrf(form)
    values = {k: str(form.get(k) or "").strip() for k in ("qr", "card_number", "temperature")}
    errors: dict[str, str] = {}
    if bool(values["qr"]) == bool(values["card_number"]):
        errors["code"] = "Give either the scanned QR text or the card number, not both. 请填写二维码内容或卡号，二选一。"
    if len(values["qr"]) > 4096 or len(values["card_number"]) > 64:
        errors["code"] = "Too long to be a pass code. 内容过长。"
    temperature = _number(values["temperature"])
    if not isinstance(temperature, float) or not 30.0 <= temperature <= 45.0:
        errors["temperature"] = "Enter the measured temperature in °C (30–45), e.g. 36.5. 请输入测得体温（30–45 °C）。"
    if errors:
        return _render_checkpoint(p, values=values, errors=errors, status=422)
    # Nothing about who passed is stored (privacy): the answer is computed and forgotten.
    decision = checkpoint.verify(session=p.session, settings=p.settings, now=p.now, temperature=temperature, qr=values["qr"] or None, card_number=values["card_number"] or None)
    return _render_checkpoint(p, values={"temperature": values["temperature"]}, decision=decision)


# ------------------------------------------------------------------ mount ---

def mount(app: FastAPI) -> None:
    """Add the pages and the vendored static files to the application."""

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        return redirect("/login?" + urlencode({"next": exc.next_url}) if exc.next_url else "/login")

    @app.exception_handler(PageRefused)
    async def _refused(request: Request, exc: PageRefused) -> Response:
        html = templates().get_template("error.html").render(title=exc.title, message=exc.message, path=request.url.path, **exc.viewer)
        return HTMLResponse(html, status_code=exc.status, headers=SECURITY_HEADERS)

    app.include_router(router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
