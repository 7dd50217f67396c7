"""The declaration request models (R6, R7, R5/R16 no extra conditions)."""

import copy
import json
from datetime import date, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from cases.declaration_schema import (
    SYMPTOMS,
    ApplicationCreate,
    Channel,
    CloseContact,
    HealthStatus,
    IdType,
    Kind,
    Stay,
    make_examples,
    window_for,
)
from cases.validation import region_index

TODAY = date(2020, 3, 10)
CTX = {"today": TODAY}


def ago(n: int) -> str:
    return (TODAY - timedelta(days=n)).isoformat()


def example(which: str, /, **changes) -> dict:
    v = copy.deepcopy(make_examples(TODAY)[which]["value"])
    v.update(changes)
    return v


def errors(payload: dict, context=CTX) -> list[dict]:
    with pytest.raises(ValidationError) as exc:
        ApplicationCreate.model_validate(payload, context=context)
    return exc.value.errors()


def error_at(payload: dict, loc: tuple) -> str:
    errs = errors(payload)
    msgs = [e["msg"] for e in errs if tuple(e["loc"]) == loc]
    assert msgs, f"no error at {loc}: {errs}"
    return " | ".join(msgs)


# --------------------------------------------------------------------------- examples


@pytest.mark.parametrize("name", ["arrival", "standard"])
@pytest.mark.parametrize("today", [date(2020, 3, 10), date(2020, 2, 29), date(2024, 1, 1)])
def test_r6_examples_validate_on_any_day(name, today):
    ex = make_examples(today)[name]
    assert ex["summary"] and ex["description"]
    m = ApplicationCreate.model_validate(ex["value"], context={"today": today})
    assert m.kind == Kind(name)
    json.dumps(ex["value"])  # literal JSON


def test_r6_example_communities_and_units_exist_in_regions():
    idx = region_index()
    for ex in make_examples(TODAY).values():
        v = ex["value"]
        assert idx[v["community_code"]]["level"] == "community"
        if v["unit_code"]:
            assert idx[v["unit_code"]]["level"] == "unit"


def test_examples_are_in_the_json_schema():
    schema = ApplicationCreate.model_json_schema()
    assert len(schema["examples"]) == 2
    assert schema["additionalProperties"] is False


def test_r6_example_is_normalised():
    m = ApplicationCreate.model_validate(example("arrival"), context=CTX)
    assert m.phone == "13905310001"
    assert m.nationality == "CHN"
    assert m.residence_history[0].place == "GBR"
    assert m.id_type is IdType.resident_id and m.channel is Channel.wechat


# --------------------------------------------------------------------------- R6 arrival rules


def test_r6_arrival_requires_pledge():
    for pledge in (None, False):
        msg = error_at(example("arrival", pledge_self_isolation=pledge), ())
        assert "pledge" in msg and "R6" in msg


def test_r6_arrival_requires_arrival_date():
    assert "arrival_date" in error_at(example("arrival", arrival_date=None), ())


def test_r6_arrival_requires_residence_history():
    assert "residence history" in error_at(example("arrival", residence_history=[]), ())


def test_r6_arrival_date_not_in_future():
    assert "future" in error_at(example("arrival", arrival_date=(TODAY + timedelta(days=1)).isoformat()), ())


def test_standard_needs_no_pledge():
    m = ApplicationCreate.model_validate(example("standard", pledge_self_isolation=None), context=CTX)
    assert m.pledge_self_isolation is None


# --------------------------------------------------------------------------- identity fields


def test_r6_rejects_bad_resident_id_checksum_naming_the_field():
    msg = error_at(example("standard", id_number="110105194912310021"), ("id_number",))
    assert "check character should be X, got 1" in msg


@pytest.mark.parametrize(
    "id_type, number, ok",
    [
        ("passport", "E12345678", True),
        ("passport", "370102199003070024", False),  # 18 chars: too long for a passport
        ("hmt_permit", "H12345678", True),
        ("hmt_permit", "E12345678", False),
        ("resident_id", "E12345678", False),
    ],
)
def test_r6_id_number_validated_by_id_type(id_type, number, ok):
    nationality = "GBR" if id_type == "passport" else "CHN"
    payload = example("standard", id_type=id_type, id_number=number, nationality=nationality)
    if ok:
        ApplicationCreate.model_validate(payload, context=CTX)
    else:
        error_at(payload, ("id_number",))


def test_r6_resident_id_requires_chinese_nationality():
    assert "nationality must be CHN" in error_at(example("standard", nationality="GB"), ())


def test_r6_bad_id_type_is_reported_once():
    errs = errors(example("standard", id_type="driving_licence"))
    assert [e["loc"] for e in errs] == [("id_type",)]


@pytest.mark.parametrize(
    "field, value, loc",
    [
        ("phone", "12345", ("phone",)),
        ("nationality", "XX", ("nationality",)),
        ("community_code", "37010200100", ("community_code",)),
        ("community_code", "420106001001", ("community_code",)),
        ("unit_code", "X1", ("unit_code",)),
        ("name", "   ", ("name",)),
        ("name", "x" * 51, ("name",)),
        ("address", "", ("address",)),
        ("kind", "transit", ("kind",)),
        ("channel", "email", ("channel",)),
    ],
)
def test_r6_field_errors_name_the_field(field, value, loc):
    error_at(example("standard", **{field: value}), loc)


def test_name_is_stripped():
    m = ApplicationCreate.model_validate(example("standard", name="  王强  "), context=CTX)
    assert m.name == "王强"


def test_blank_unit_code_is_none():
    m = ApplicationCreate.model_validate(example("standard", unit_code=" "), context=CTX)
    assert m.unit_code is None


# --------------------------------------------------------------------------- R10 counter only


def test_r10_needs_verification_only_on_counter():
    assert "counter" in error_at(example("standard", needs_verification=True), ())
    m = ApplicationCreate.model_validate(
        example("standard", needs_verification=True, channel="counter"), context=CTX
    )
    assert m.needs_verification


# --------------------------------------------------------------------------- R5 / R16 no extras


@pytest.mark.parametrize("extra", ["physical_examination", "filing_certificate", "local_health_cert"])
def test_r16_extra_conditions_cannot_be_smuggled_in(extra):
    errs = errors(example("standard", **{extra: True}))
    assert any(e["type"] == "extra_forbidden" and e["loc"] == (extra,) for e in errs)


def test_r16_nested_models_forbid_extras_too():
    v = example("standard")
    v["health"]["nucleic_acid_test"] = "negative"
    v["residence_history"][0]["quarantine_hotel"] = "x"
    locs = {tuple(e["loc"]) for e in errors(v) if e["type"] == "extra_forbidden"}
    assert ("health", "nucleic_acid_test") in locs
    assert ("residence_history", 0, "quarantine_hotel") in locs


# --------------------------------------------------------------------------- 14-day window


def test_window_is_14_days_including_today():
    start, end = window_for(TODAY)
    assert end == TODAY and start == TODAY - timedelta(days=13)
    assert (end - start).days + 1 == 14


def stay(place, frm, to):
    return {"place": place, "from_date": frm, "to_date": to}


@pytest.mark.parametrize(
    "s, ok",
    [
        (stay("420106", ago(13), ago(13)), True),    # first day of the window
        (stay("420106", ago(30), ago(13)), True),    # started before, reaches the window
        (stay("420106", ago(30), ago(0)), True),     # continues to today
        (stay("420106", ago(15), ago(15)), False),   # ended 15 days ago
        (stay("420106", ago(20), ago(14)), False),   # ended the day before the window
        (stay("420106", ago(1), ago(-1)), False),    # ends tomorrow
        (stay("420106", ago(-2), ago(-1)), False),   # entirely in the future
        (stay("420106", ago(3), ago(5)), False),     # to before from
    ],
)
def test_r6_stay_window_table(s, ok):
    payload = example("standard", residence_history=[s])
    if ok:
        ApplicationCreate.model_validate(payload, context=CTX)
    else:
        error_at(payload, ("residence_history", 0))


def test_r6_stay_ended_15_days_ago_is_rejected_with_clear_message():
    msg = error_at(example("standard", residence_history=[stay("420106", ago(16), ago(15))]),
                   ("residence_history", 0))
    assert "before the 14-day window" in msg
    assert ago(13) in msg and TODAY.isoformat() in msg


def test_r6_today_comes_from_validation_context():
    payload = example("standard", residence_history=[stay("420106", "2020-03-01", "2020-03-01")])
    ApplicationCreate.model_validate(payload, context={"today": date(2020, 3, 14)})
    with pytest.raises(ValidationError, match="before the 14-day window"):
        ApplicationCreate.model_validate(payload, context={"today": date(2020, 3, 15)})
    # an aware datetime is read in Asia/Shanghai: 2020-03-14 17:00 UTC = 2020-03-15 01:00 +08
    with pytest.raises(ValidationError, match="before the 14-day window"):
        ApplicationCreate.model_validate(
            payload, context={"today": datetime(2020, 3, 14, 17, 0, tzinfo=timezone.utc)}
        )


def test_without_context_today_is_shanghai_today():
    from cases.validation import today_shanghai

    today = today_shanghai()
    ex = make_examples(today)["standard"]["value"]
    ApplicationCreate.model_validate(ex)  # no context


def test_r6_residence_history_max_60():
    many = [stay("420106", ago(1), ago(1))] * 61
    error_at(example("standard", residence_history=many), ("residence_history",))
    ApplicationCreate.model_validate(example("standard", residence_history=many[:60]), context=CTX)


def test_r6_stay_place_normalised():
    m = Stay.model_validate(stay("us", ago(3), ago(2)), context=CTX)
    assert m.place == "USA"
    with pytest.raises(ValidationError, match="region code"):
        Stay.model_validate(stay("CN", ago(3), ago(2)), context=CTX)


# --------------------------------------------------------------------------- health, contact


def test_r6_symptoms_closed_list():
    h = HealthStatus.model_validate({"symptoms": ["Fever", "cough", "fever"], "temperature": 38.1})
    assert h.symptoms == ["fever", "cough"]
    with pytest.raises(ValidationError) as exc:
        HealthStatus.model_validate({"symptoms": ["headache"], "temperature": 36.5})
    msg = str(exc.value)
    assert "unknown symptom 'headache'" in msg
    for s in SYMPTOMS:
        assert s in msg


@pytest.mark.parametrize("t", [33.9, 43.5])
def test_r6_temperature_range_in_declaration(t):
    v = example("standard")
    v["health"]["temperature"] = t
    error_at(v, ("health", "temperature"))


def test_r6_close_contact_details_required():
    with pytest.raises(ValidationError, match="details are required"):
        CloseContact.model_validate({"had_contact": True})
    with pytest.raises(ValidationError, match="details are required"):
        CloseContact.model_validate({"had_contact": True, "details": "   "})
    c = CloseContact.model_validate({"had_contact": True, "details": " colleague, 2020-03-02 "})
    assert c.details == "colleague, 2020-03-02"
    assert CloseContact.model_validate({"had_contact": False}).details is None
