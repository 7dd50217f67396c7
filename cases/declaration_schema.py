"""Request models for the health declaration (R6) -- pydantic v2, not tables.

The declaration is step 1 of R14 (declaration -> big-data comparison -> audit).
All models forbid unknown fields (``extra="forbid"``): a locality or a client
cannot smuggle extra conditions (a physical examination, a filing, a local
certificate...) into the declaration; an unknown field is a 422 naming it
(R5, R16).

"Today"
-------
Date rules are relative to the declaration date, which is injectable: the
validators read ``today`` from the pydantic validation context, e.g.::

    ApplicationCreate.model_validate(payload, context={"today": clock_date})

and fall back to the current date in Asia/Shanghai.  ``today`` may be a
``date`` or an aware ``datetime`` (converted to its Asia/Shanghai date).

The 14-day window
-----------------
The residence-history window is 14 calendar days *including* the declaration
date: ``today - 13`` ... ``today`` (``window_for(today)``).  A stay is
accepted when it overlaps the window: a stay that started before the window
and continues into it is fine; a stay that ENDED before ``today - 13`` (e.g.
15 days ago) is rejected, and so are dates in the future.

Arrivals (R6, R7): ``kind="arrival"`` requires ``pledge_self_isolation=True``,
an ``arrival_date`` (not in the future) and at least one stay.  For
``kind="standard"`` the arrival fields are optional and not interpreted.
``needs_verification`` may only be set on the ``counter`` channel (R10).

Examples: ``make_examples(today)`` returns FastAPI ``openapi_examples``-shaped
``{"arrival": {"summary", "description", "value"}, "standard": {...}}`` with
dates relative to ``today`` (a constant would leave the 14-day window).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from cases.messages import msg
from cases.validation import (
    SHANGHAI,
    check_community_code,
    check_country,
    check_id_number,
    check_mobile,
    check_name,
    check_place,
    check_temperature,
    check_text,
    check_unit_code,
    today_shanghai,
)

__all__ = [
    "WINDOW_DAYS",
    "SYMPTOMS",
    "IdType",
    "Channel",
    "Kind",
    "Stay",
    "HealthStatus",
    "CloseContact",
    "Day",
    "ApplicationCreate",
    "PersonName",
    "Text",
    "MultilineText",
    "Temperature",
    "today_from",
    "window_for",
    "make_examples",
]

WINDOW_DAYS = 14
MAX_STAYS = 60

SYMPTOMS: tuple[str, ...] = (
    "fever",
    "cough",
    "sore_throat",
    "fatigue",
    "shortness_of_breath",
    "diarrhea",
    "loss_of_taste_or_smell",
)


class IdType(StrEnum):
    resident_id = "resident_id"
    passport = "passport"
    hmt_permit = "hmt_permit"


class Channel(StrEnum):
    wechat = "wechat"      # "Healthy Shandong Service Number" WeChat account
    app = "app"            # "Love Shandong" app
    counter = "counter"    # offline, at the community (village) counter (R10)
    unit = "unit"          # submitted by the employer for an employee (R17)


class Kind(StrEnum):
    arrival = "arrival"    # entering Shandong from outside the province or abroad (R6)
    standard = "standard"  # anyone else applying for a pass


def today_from(info: ValidationInfo | None) -> date:
    """The declaration date: ``info.context["today"]`` if given, else today in Asia/Shanghai."""
    ctx = info.context if info is not None else None
    if isinstance(ctx, dict) and ctx.get("today") is not None:
        t = ctx["today"]
        if isinstance(t, datetime):
            if t.tzinfo is None:
                return t.date()
            return t.astimezone(SHANGHAI).date()
        if isinstance(t, date):
            return t
        raise TypeError("validation context 'today' must be a date or datetime")
    return today_shanghai()


def window_for(today: date) -> tuple[date, date]:
    """The 14-day window including ``today``: (today - 13, today)."""
    return today - timedelta(days=WINDOW_DAYS - 1), today


_FORBID = ConfigDict(extra="forbid", str_strip_whitespace=True)

# Text types for every free-text field that reaches the store: no NUL or control characters,
# no unpaired surrogates, no bidirectional overrides; a name needs a letter and has no invisible
# characters or emoji (cases.validation.check_text / check_name).
PersonName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50), AfterValidator(check_name)]
Text = Annotated[str, AfterValidator(check_text)]
MultilineText = Annotated[str, AfterValidator(lambda v: check_text(v, multiline=True))]

def _day_text(v: Any) -> Any:
    # A date is written as text (2026-03-01); a number would be read as seconds since 1970.
    if isinstance(v, (int, float)):
        raise ValueError(msg("a date is written as YYYY-MM-DD text, not a number"))
    return v


Day = Annotated[date, BeforeValidator(_day_text)]

# JSON clients send a number: "36.6" (a string), NaN and infinities are refused by type. The web
# forms convert their text to a float first (ui/), so they stay as lax as before.
Temperature = Annotated[float, Field(strict=True, allow_inf_nan=False, description="body temperature in °C (34.0-43.0)")]


class Stay(BaseModel):
    """One stay of the 14-day residence history."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {"place": "420106", "from_date": "2020-03-01", "to_date": "2020-03-05"},
                {"place": "GBR", "from_date": "2020-02-20", "to_date": "2020-03-08"},
            ]
        },
    )

    place: str = Field(
        description="6-digit GB/T 2260 region code (mainland China) or ISO 3166 "
        "alpha-2/alpha-3 country code (abroad, incl. HKG/MAC/TWN); countries are normalised to alpha-3",
        examples=["420106", "GBR"],
    )
    from_date: Day
    to_date: Day

    @field_validator("place")
    @classmethod
    def _place(cls, v: str) -> str:
        return check_place(v)

    @model_validator(mode="after")
    def _dates(self, info: ValidationInfo) -> Stay:
        if self.to_date < self.from_date:
            raise ValueError(
                msg("to_date {to_date} is before from_date {from_date}", to_date=self.to_date.isoformat(), from_date=self.from_date.isoformat())
            )
        today = today_from(info)
        start, _ = window_for(today)
        if self.from_date > today or self.to_date > today:
            raise ValueError(
                msg("stay dates must not be in the future (declaration date {today})", today=today.isoformat())
            )
        if self.to_date < start:
            raise ValueError(
                msg("stay in {place} ended {to_date}, before the 14-day window ({start} to {today}); declare only stays of the last 14 days", place=self.place, to_date=self.to_date.isoformat(), start=start.isoformat(), today=today.isoformat())
            )
        return self


class HealthStatus(BaseModel):
    """Symptoms (closed list) and body temperature."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"symptoms": [], "temperature": 36.5}]},
    )

    symptoms: list[str] = Field(
        default_factory=list,
        description="zero or more of: " + ", ".join(SYMPTOMS),
        max_length=len(SYMPTOMS),
    )
    temperature: Temperature

    @field_validator("symptoms", mode="before")
    @classmethod
    def _symptoms(cls, v: Any) -> Any:
        if not isinstance(v, list):
            return v
        if len(v) > len(SYMPTOMS):  # counted before duplicates are merged: 1,000 repeats are refused
            raise ValueError(msg("at most {count} symptoms, each once", count=len(SYMPTOMS)))
        out: list[str] = []
        for s in v:
            if not isinstance(s, str):
                raise ValueError(msg("symptom must be text, one of: {allowed}", allowed=', '.join(SYMPTOMS)))
            key = s.strip().lower()
            if key not in SYMPTOMS:
                raise ValueError(msg("unknown symptom {value}; allowed: {allowed}", value=repr(s), allowed=', '.join(SYMPTOMS)))
            if key not in out:
                out.append(key)
        return out

    @field_validator("temperature")
    @classmethod
    def _temperature(cls, v: float) -> float:
        return check_temperature(v)


class CloseContact(BaseModel):
    """Close-contact history of the last 14 days."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"examples": [{"had_contact": False, "details": None}]},
    )

    had_contact: StrictBool
    details: Annotated[MultilineText, StringConstraints(max_length=500)] | None = Field(
        default=None, description="required when had_contact is true: who, where, when"
    )

    @model_validator(mode="after")
    def _details(self) -> CloseContact:
        if self.details is not None and not self.details:
            self.details = None
        if self.had_contact and not self.details:
            raise ValueError(msg("details are required when had_contact is true (who, where, when)"))
        return self


Name = PersonName
Address = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(lambda v: check_text(v, "address"))]
Port = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), AfterValidator(lambda v: check_text(v, "arrival port"))]


def _schema_examples(schema: dict[str, Any]) -> None:
    # Computed when the JSON schema is generated, so the dates sit in the window.
    schema["examples"] = [ex["value"] for ex in make_examples(today_shanghai()).values()]


class ApplicationCreate(BaseModel):
    """A health declaration / pass application (R6), validated; see the module docstring."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra=_schema_examples)

    kind: Kind
    channel: Channel
    name: Name
    id_type: IdType
    id_number: str = Field(description="validated according to id_type; stored normalised")
    phone: str = Field(description="mainland mobile; normalised to 11 digits")
    nationality: str = Field(default="CHN", description="ISO 3166 alpha-2 or alpha-3; normalised to alpha-3")
    address: Address
    community_code: str = Field(description="12-digit code of the community (village) of residence")
    unit_code: str | None = Field(default=None, description="employer unit code U + 9 digits")
    residence_history: list[Stay] = Field(default_factory=list, max_length=MAX_STAYS)
    close_contact: CloseContact
    health: HealthStatus
    pledge_self_isolation: StrictBool | None = None
    arrival_date: Day | None = None
    arrival_port: Port | None = None
    needs_verification: StrictBool = Field(default=False, description="counter channel only (R10)")

    @field_validator("id_number")
    @classmethod
    def _id_number(cls, v: str, info: ValidationInfo) -> str:
        id_type = info.data.get("id_type")
        if id_type is None:  # id_type itself failed; its own error names it
            return v
        return check_id_number(id_type, v, today=today_from(info))

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str) -> str:
        return check_mobile(v)

    @field_validator("nationality")
    @classmethod
    def _nationality(cls, v: str) -> str:
        return check_country(v)

    @field_validator("community_code")
    @classmethod
    def _community(cls, v: str) -> str:
        return check_community_code(v)

    @field_validator("unit_code")
    @classmethod
    def _unit(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        return check_unit_code(v)

    @model_validator(mode="after")
    def _cross_field(self, info: ValidationInfo) -> ApplicationCreate:
        today = today_from(info)
        if self.id_type == IdType.resident_id and self.nationality != "CHN":
            raise ValueError(msg("a resident ID belongs to a Chinese citizen: nationality must be CHN"))
        if self.needs_verification and self.channel != Channel.counter:
            raise ValueError(msg("needs_verification applies only to the counter channel (R10)"))
        if self.arrival_date is not None and self.arrival_date > today:
            raise ValueError(msg("arrival_date {arrival_date} is in the future", arrival_date=self.arrival_date.isoformat()))
        if self.kind == Kind.arrival:
            if self.pledge_self_isolation is not True:
                raise ValueError(
                    msg("an arrival declaration requires the pledge to self-isolate (pledge_self_isolation must be true, R6)")
                )
            if self.arrival_date is None:
                raise ValueError(msg("an arrival declaration requires arrival_date (R6)"))
            if not self.residence_history:
                raise ValueError(
                    msg("an arrival declaration requires the residence history of the last 14 days (R6)")
                )
        return self


# --------------------------------------------------------------------------- #
# examples
# --------------------------------------------------------------------------- #


def make_examples(today: date) -> dict[str, dict[str, Any]]:
    """Two valid example payloads, ``arrival`` and ``standard``, relative to ``today``.

    The persons are the demo persons of ``cases/data/demo_persons.json``
    (Li Na and Wang Qiang); their communities exist in ``regions.json``.
    """

    def d(days_ago: int) -> str:
        return (today - timedelta(days=days_ago)).isoformat()

    arrival = {
        "kind": "arrival",
        "channel": "wechat",
        "name": "李娜",
        "id_type": "resident_id",
        "id_number": "370102199003070024",
        "phone": "+86 139 0531 0001",
        "nationality": "CHN",
        "address": "山东省济南市历下区和平社区3号楼2单元401（演示）",
        "community_code": "370102001001",
        "unit_code": "U370102001",
        "residence_history": [
            {"place": "GBR", "from_date": d(20), "to_date": d(2)},
            {"place": "110105", "from_date": d(2), "to_date": d(1)},
        ],
        "close_contact": {"had_contact": False, "details": None},
        "health": {"symptoms": [], "temperature": 36.5},
        "pledge_self_isolation": True,
        "arrival_date": d(1),
        "arrival_port": "济南西站 Jinan West Railway Station",
        "needs_verification": False,
    }
    standard = {
        "kind": "standard",
        "channel": "app",
        "name": "王强",
        "id_type": "resident_id",
        "id_number": "370202198511200113",
        "phone": "139-0532-0002",
        "nationality": "CHN",
        "address": "山东省青岛市市南区和平社区8号（演示）",
        "community_code": "370202001001",
        "unit_code": None,
        "residence_history": [
            {"place": "370202", "from_date": d(30), "to_date": d(0)},
        ],
        "close_contact": {"had_contact": False, "details": None},
        "health": {"symptoms": [], "temperature": 36.6},
        "pledge_self_isolation": None,
        "arrival_date": None,
        "arrival_port": None,
        "needs_verification": False,
    }
    return {
        "arrival": {
            "summary": "Arrival from abroad (R6, R7)",
            "description": "A returned overseas student arriving in Jinan: 14-day residence "
            "history, pledge to self-isolate, arrival date and port. Generates a yellow code at once.",
            "value": arrival,
        },
        "standard": {
            "summary": "Standard application",
            "description": "A Qingdao resident who stayed at home: one stay that started before "
            "the 14-day window and continues into it.",
            "value": standard,
        },
    }


class ReportIn(HealthStatus):
    """One daily health report (R8). Symptoms from the closed list; temperature 34-43 °C."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"temperature": 36.6, "symptoms": [], "location_confirmed": True}]},
    )

    day: Day | None = Field(default=None, description="the calendar day reported (Asia/Shanghai); default today. A past day is marked late.")
    location_confirmed: StrictBool = Field(description="the applicant confirms being at the declared isolation address")
