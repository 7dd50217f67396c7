"""Colour rules as published, versioned data (R7 arrivals yellow, R12 red never auto-issued)."""

import json
from datetime import date

import pytest

from cases.comparison import rules
from cases.comparison.engine import OUTCOMES
from cases.comparison.rules import RULESETS, Ruleset, decide, ruleset_for, to_public_dict


def test_ruleset_2020_03_01_content():
    rs = ruleset_for(date(2020, 3, 1))
    assert rs.version == "2020-03-01"
    # declared_ill (a declared fever or symptom, R12) was added later: the issuer audits it.
    assert dict(rs.rules) == {"clear": "green", "mismatch": "audit", "declared_ill": "audit", "risk_area": "yellow",
                              "close_contact": "red", "confirmed": "red", "incomplete": "audit"}
    for o in OUTCOMES:
        assert rs.description_en[o] and rs.description_zh[o]


def test_ruleset_for_picks_latest_in_force(monkeypatch):
    later = Ruleset(version="2020-04-15", effective_from=date(2020, 4, 15),
                    rules={**RULESETS[0].rules, "risk_area": "audit"},
                    description_en=RULESETS[0].description_en, description_zh=RULESETS[0].description_zh)
    monkeypatch.setattr(rules, "RULESETS", (*RULESETS, later))
    assert ruleset_for(date(2020, 4, 14)).version == "2020-03-01"
    assert ruleset_for(date(2020, 4, 15)).version == "2020-04-15"
    assert decide("risk_area", kind="standard", on=date(2020, 4, 20)).result == "audit"
    assert to_public_dict(date(2020, 4, 1))["current"] == "2020-03-01"


def test_no_ruleset_before_the_first():
    with pytest.raises(LookupError, match="no colour ruleset"):
        ruleset_for(date(2020, 2, 29))


def test_rulesets_are_immutable_and_complete():
    rs = RULESETS[0]
    with pytest.raises(TypeError):
        rs.rules["clear"] = "red"  # type: ignore[index]
    with pytest.raises(ValueError, match="lacks"):
        Ruleset("x", date(2020, 1, 1), {"clear": "green"}, {}, {})
    with pytest.raises(ValueError, match="unknown results"):
        Ruleset("x", date(2020, 1, 1), {**rs.rules, "clear": "blue"}, rs.description_en, rs.description_zh)


@pytest.mark.parametrize(
    "outcome, standard, arrival, audit",
    [
        ("clear", "green", "yellow", False),
        ("mismatch", "audit", "yellow", True),
        ("risk_area", "yellow", "yellow", False),
        ("close_contact", "red", "red", False),
        ("confirmed", "red", "red", False),
        ("incomplete", "audit", "yellow", True),
    ],
)
def test_r7_arrivals_always_start_yellow_independent_of_ruleset(outcome, standard, arrival, audit):
    on = date(2020, 3, 20)
    s = decide(outcome, kind="standard", on=on)
    a = decide(outcome, kind="arrival", on=on)
    assert (s.result, a.result) == (standard, arrival)
    assert s.needs_audit == a.needs_audit == audit
    assert a.ruleset_version == "2020-03-01"


def test_decide_rejects_unknown_values():
    with pytest.raises(ValueError):
        decide("maybe", kind="standard", on=date(2020, 3, 20))
    with pytest.raises(ValueError):
        decide("clear", kind="tourist", on=date(2020, 3, 20))


def test_public_rules_document():
    d = to_public_dict(date(2020, 3, 20))
    json.dumps(d, ensure_ascii=False)
    (rs,) = d["rulesets"]
    assert d["current"] == rs["version"] == "2020-03-01"
    assert rs["green_directly"] == ["clear"]
    assert rs["green_after_audit"] == ["mismatch", "declared_ill", "incomplete"]
    assert rs["yellow_observation"] == ["risk_area"]
    assert rs["red"] == ["close_contact", "confirmed"]
    assert rs["arrivals"]["result"] == "yellow"
    assert "R12" in rs["results"]["red"]["en"] and "R12" in rs["results"]["audit"]["en"]
    assert {o["outcome"] for o in rs["outcomes"]} == set(OUTCOMES)
