"""Colour rules as published, versioned data (answering "unpublished colour rules").

A ``Ruleset`` maps each comparison outcome to a result:

* ``green``  -- pass issued (valid 14 days, R2);
* ``yellow`` -- observation: daily health reports, green after 14 days (R8, R9);
* ``red``    -- not eligible; the community is told; the case is never
  auto-issued (R12);
* ``audit``  -- the community (village) / unit issuer reviews the case within
  the SLA (R10, R11).  The review ends green when the declaration is confirmed
  (R19: "applicant unknown to us" is not a reason to refuse); with no opinion in
  time the system issues green itself before 18:00 the next day (R12).

Rulesets carry an ``effective_from`` date; ``ruleset_for(d)`` picks the latest
one in force on ``d`` so a decision can always be traced to the rules of its
day.  Add a ruleset by appending to ``RULESETS`` -- never edit a published one.

Arrivals (R7): an arrival declaration gets a yellow pass at once, *independent
of the ruleset*; the comparison can only make it red (confirmed / close
contact), never green before the 14-day observation ends (R9).  ``decide``
implements this: for ``kind="arrival"`` green / audit / yellow results become
``yellow`` (``needs_audit`` still tells whether the issuer must look).

Localities cannot add rules (R5, R16): there is no per-locality ruleset.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Any, Mapping

__all__ = ["RESULTS", "Ruleset", "RULESETS", "Decision", "ruleset_for", "decide", "to_public_dict"]

RESULTS: tuple[str, ...] = ("green", "yellow", "red", "audit")
_OUTCOMES = ("clear", "mismatch", "declared_ill", "risk_area", "close_contact", "confirmed", "incomplete")


@dataclass(frozen=True)
class Ruleset:
    version: str
    effective_from: date
    rules: Mapping[str, str]
    description_en: Mapping[str, str]
    description_zh: Mapping[str, str]

    def __post_init__(self) -> None:
        for name in ("rules", "description_en", "description_zh"):
            m = getattr(self, name)
            missing = set(_OUTCOMES) - set(m)
            if missing:
                raise ValueError(f"ruleset {self.version}: {name} lacks {sorted(missing)}")
            object.__setattr__(self, name, MappingProxyType(dict(m)))
        bad = {o: r for o, r in self.rules.items() if r not in RESULTS}
        if bad:
            raise ValueError(f"ruleset {self.version}: unknown results {bad}")

    def result_for(self, outcome: str) -> str:
        try:
            return self.rules[outcome]
        except KeyError:
            raise ValueError(f"unknown comparison outcome {outcome!r}") from None

    def to_public_dict(self) -> dict[str, Any]:
        """The ruleset for ``GET /api/v1/rules``: every outcome, its result and explanation."""
        by_result: dict[str, list[str]] = {r: [] for r in RESULTS}
        for o in _OUTCOMES:
            by_result[self.rules[o]].append(o)
        return {
            "version": self.version,
            "effective_from": self.effective_from.isoformat(),
            "outcomes": [
                {
                    "outcome": o,
                    "result": self.rules[o],
                    "description_en": self.description_en[o],
                    "description_zh": self.description_zh[o],
                }
                for o in _OUTCOMES
            ],
            "green_directly": by_result["green"],
            "green_after_audit": by_result["audit"],
            "yellow_observation": by_result["yellow"],
            "red": by_result["red"],
            "results": {
                "green": {"en": "Pass issued, valid 14 days across the province (R2).",
                          "zh": "发放绿码，全省通用，有效期14天。"},
                "yellow": {"en": "Observation: report health daily; green after 14 days without "
                                 "missing or abnormal reports (R8, R9).",
                           "zh": "隔离观察：每日报告健康状况，14天内无漏报、无异常即转绿码。"},
                "red": {"en": "Not eligible; the community contacts you. Never issued automatically (R12). "
                              "Path back: released from the registry by the health authority, then a new "
                              "application is compared again.",
                        "zh": "暂不符合条件，由社区联系本人，系统不自动发码。经卫健部门解除后重新申报比对。"},
                "audit": {"en": "Reviewed by your community (village) or unit issuer within 6 hours (counter) "
                                "or 6 working hours (online); green when the declaration is confirmed. With no "
                                "opinion in time, the system issues green before 18:00 the next day (R10-R12).",
                          "zh": "由社区（村）或单位发放员审核：线下6小时内、线上6个工作小时内办结；核实无误即发绿码；"
                                "超时未出具意见的，系统于次日18时前自动生成绿码。"},
            },
            "arrivals": {
                "result": "yellow",
                "en": "Arrivals from outside the province (incl. abroad) get a yellow pass at once on a valid "
                      "declaration, whatever the ruleset; it turns red only on a confirmed or close-contact "
                      "hit, and green after 14 days of observation (R7, R9).",
                "zh": "省外（含境外）来鲁人员申报后即生成黄码；比对发现确诊、疑似或密切接触者的转红码；"
                      "隔离观察14天期满后转绿码。",
            },
        }


RULESETS: tuple[Ruleset, ...] = (
    Ruleset(
        version="2020-03-01",
        effective_from=date(2020, 3, 1),
        rules={
            "clear": "green",
            "mismatch": "audit",
            # Added with the declared-health flag: no case of this ruleset had that outcome
            # before, so no earlier decision reads differently.
            "declared_ill": "audit",
            "risk_area": "yellow",
            "close_contact": "red",
            "confirmed": "red",
            "incomplete": "audit",
        },
        description_en={
            "clear": "Every comparison source answered and nothing was found.",
            "mismatch": "Roaming or border records show a place the declaration omits (R15); the issuer "
                        "checks with the applicant.",
            "declared_ill": "The declaration states a fever (37.3 °C or more) or a symptom; the issuer checks on "
                            "the person. Never issued green automatically (R12).",
            "risk_area": "A stay in the last 14 days was in a high-risk area while it was listed.",
            "close_contact": "The person is on the close-contact registry.",
            "confirmed": "The person is on the confirmed or suspected case registry.",
            "incomplete": "A comparison source was unavailable or out of date, so the comparison could not "
                          "clear the application; the issuer reviews it.",
        },
        description_zh={
            "clear": "各比对数据源均已响应，未发现异常。",
            "mismatch": "通信行程或出入境记录显示有未申报的地点，由发放员与申请人核实。",
            "declared_ill": "申报体温37.3℃及以上或有症状，由发放员了解核实本人情况；系统不自动发放绿码。",
            "risk_area": "近14天内在高风险地区列管期间有停留。",
            "close_contact": "本人在密切接触者名单中。",
            "confirmed": "本人在确诊或疑似病例名单中。",
            "incomplete": "有比对数据源不可用或数据过期，无法完成比对，转发放员审核。",
        },
    ),
)


def ruleset_for(d: date) -> Ruleset:
    """The latest ruleset with ``effective_from <= d``."""
    candidates = [r for r in RULESETS if r.effective_from <= d]
    if not candidates:
        first = min(r.effective_from for r in RULESETS)
        raise LookupError(f"no colour ruleset in force on {d.isoformat()} (the first starts {first.isoformat()})")
    return max(candidates, key=lambda r: r.effective_from)


@dataclass(frozen=True)
class Decision:
    result: str            # green | yellow | red | audit
    needs_audit: bool      # the issuer must review (mismatch / incomplete)
    ruleset_version: str
    outcome: str
    kind: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "result": self.result,
            "needs_audit": self.needs_audit,
            "ruleset_version": self.ruleset_version,
            "outcome": self.outcome,
            "kind": self.kind,
        }


def decide(outcome: str, *, kind: str, on: date) -> Decision:
    """Result for a comparison outcome under the ruleset in force ``on`` (see module doc)."""
    k = getattr(kind, "value", kind)
    if k not in ("arrival", "standard"):
        raise ValueError(f"unknown declaration kind {k!r}")
    rs = ruleset_for(on)
    res = rs.result_for(outcome)
    needs_audit = res == "audit"
    if k == "arrival" and res != "red":
        res = "yellow"
    return Decision(result=res, needs_audit=needs_audit, ruleset_version=rs.version, outcome=outcome, kind=k)


def to_public_dict(on: date | None = None) -> dict[str, Any]:
    """All rulesets (history included) and the one in force ``on``, for ``GET /api/v1/rules``."""
    current = ruleset_for(on) if on is not None else max(RULESETS, key=lambda r: r.effective_from)
    return {
        "current": current.version,
        "rulesets": [r.to_public_dict() for r in sorted(RULESETS, key=lambda r: r.effective_from)],
    }
