"""Big-data comparison engine (R14 step 2, R15, R12 red list)."""

import json
from datetime import date, datetime, timedelta, timezone

import pytest

from cases.comparison import (
    ComparisonSource,
    DeclarationFacts,
    DeclaredStay,
    InMemorySource,
    Record,
    SourceUnavailable,
    compare,
)
from cases.declaration_schema import ApplicationCreate, make_examples
from cases.validation import hash_id_number, hash_phone

KEY = b"test-key-0123456789abcdef0123456"
# 2020-03-20 10:00 in Shanghai
NOW = datetime(2020, 3, 20, 2, 0, tzinfo=timezone.utc)
TODAY = date(2020, 3, 20)
ID = "370102199003070024"
PHONE = "13905310001"
IDH = hash_id_number(ID, key=KEY)
PH = hash_phone(PHONE, key=KEY)
OTHER_IDH = hash_id_number("370202198511200113", key=KEY)


def ago(n: int) -> date:
    return TODAY - timedelta(days=n)


def facts(*stays, home="370102", home_from=None) -> DeclarationFacts:
    return DeclarationFacts(
        id_hash=IDH, phone_hash=PH,
        stays=tuple(DeclaredStay(p, ago(a), ago(b)) for p, a, b in stays),
        home=home, home_from=home_from,
    )


def src(name, *records, fresh=NOW - timedelta(hours=1), max_age=timedelta(days=1), **kw) -> InMemorySource:
    recs = [Record(source=name, kind=k, key=f"{name}-{i}", data=d) for i, (k, d) in enumerate(records)]
    return InMemorySource(name, recs, version=f"{name}-v7", fresh_as_of=fresh, max_age=max_age, **kw)


def roaming(city, a, b, hours=10.0, phone_hash=PH):
    return ("roaming", {"phone_hash": phone_hash, "city": city, "from": ago(a).isoformat(),
                        "to": ago(b).isoformat(), "hours": hours})


def risk(region, a, b=None, level="high"):
    return ("risk_area", {"region": region, "level": level, "from": ago(a).isoformat(),
                          "to": ago(b).isoformat() if b is not None else None})


def run(f, *sources):
    return compare(declaration=f, sources=list(sources), now=NOW)


def test_inmemory_source_satisfies_protocol():
    assert isinstance(src("x"), ComparisonSource)


def test_r14_clear_when_all_sources_answer_and_nothing_found():
    r = run(facts(("420106", 10, 5)),
            src("roaming", roaming("3701", 4, 0), roaming("4201", 10, 5)),
            src("risk_areas", risk("110000", 30)),
            src("registry", ("close_contact", {"id_hash": OTHER_IDH, "listed_at": "2020-03-18"})))
    assert r.outcome == "clear" and r.complete and not r.red_list and r.hits == []
    assert [s.status for s in r.sources] == ["ok", "ok", "ok"]
    assert (r.window_start, r.window_end) == (ago(13), TODAY)


# --------------------------------------------------------------------------- R15 roaming


def test_r15_omitted_roaming_city_is_mismatch():
    r = run(facts(), src("roaming", roaming("1101", 6, 5, hours=9)))
    assert r.outcome == "mismatch"
    (h,) = r.hits
    assert (h.source, h.source_version, h.record_key, h.kind) == ("roaming", "roaming-v7", "roaming-0", "roaming")
    assert "1101" in h.explanation and "R15" in h.explanation and "9 h" in h.explanation


@pytest.mark.parametrize(
    "record, declared, outcome",
    [
        (roaming("4201", 6, 5), [("420106", 6, 5)], "clear"),         # district declared, city roamed
        (roaming("420100", 6, 5), [("420102", 6, 5)], "clear"),       # other district, same city
        (roaming("420106", 6, 5), [("420000", 8, 2)], "clear"),       # province declared
        (roaming("1101", 6, 5), [("110105", 6, 5)], "clear"),         # municipality
        (roaming("4201", 6, 5), [("4201".ljust(6, "0"), 4, 3)], "clear"),  # 1-day tolerance
        (roaming("4201", 6, 5), [("420106", 2, 1)], "mismatch"),      # declared, but another time
        (roaming("4201", 6, 5), [("4202".ljust(6, "0"), 6, 5)], "mismatch"),  # another city
        (roaming("4201", 6, 5, hours=3.5), [], "clear"),              # under 4 h
        (roaming("4201", 6, 5, hours=4), [], "mismatch"),             # exactly 4 h
        (roaming("4201", 6, 5, phone_hash="someone-else"), [], "clear"),
        (roaming("3701", 13, 0), [], "clear"),                        # home city
    ],
)
def test_r15_roaming_table(record, declared, outcome):
    assert run(facts(*declared), src("roaming", record)).outcome == outcome


def test_r15_roaming_record_15_days_old_is_ignored():
    r = run(facts(), src("roaming", roaming("4201", 16, 15, hours=10)))
    assert r.outcome == "clear" and r.hits == []


def test_r15_roaming_record_reaching_into_window_counts():
    assert run(facts(), src("roaming", roaming("4201", 20, 13))).outcome == "mismatch"


def test_arrival_home_counts_only_from_arrival_date():
    before = run(facts(home_from=ago(2)), src("roaming", roaming("3701", 6, 5)))
    after = run(facts(home_from=ago(6)), src("roaming", roaming("3701", 6, 5)))
    assert before.outcome == "mismatch" and after.outcome == "clear"


@pytest.mark.parametrize(
    "declared, days_ago, outcome",
    [([], 3, "mismatch"), ([("GBR", 20, 3)], 3, "clear"), ([], 20, "clear")],
)
def test_r15_border_entry_without_declared_stay_abroad_is_mismatch(declared, days_ago, outcome):
    rec = ("border_entry", {"id_hash": IDH, "port": "PEK", "date": ago(days_ago).isoformat()})
    assert run(facts(*declared), src("border", rec)).outcome == outcome


# --------------------------------------------------------------------------- risk areas


@pytest.mark.parametrize(
    "declared, roamed, area, outcome",
    [
        ([("420106", 10, 3)], [], risk("420100", 60), "risk_area"),         # city listed, district stay
        ([("420100", 10, 3)], [], risk("420106", 60), "risk_area"),         # district listed, city stay
        ([("420106", 10, 3)], [], risk("420000", 60), "risk_area"),         # province listed
        ([("420106", 10, 3)], [], risk("420100", 60, 11), "clear"),         # delisted before the stay
        ([("420106", 10, 8)], [], risk("420100", 7), "clear"),              # listed after the stay
        ([("420106", 30, 14)], [], risk("420100", 60), "clear"),            # stay before the window
        ([("420106", 30, 13)], [], risk("420100", 13, 13), "risk_area"),    # one overlapping day
        ([("420106", 10, 3)], [], risk("420100", 60, level="medium"), "clear"),
        ([("430102", 10, 3)], [], risk("420100", 60), "clear"),             # other province
        ([("ITA", 10, 3)], [], risk("ITA", 60), "risk_area"),               # a country listed
        ([], [roaming("4201", 6, 5)], risk("420100", 60), "risk_area"),     # roamed, undeclared
    ],
)
def test_risk_area_table(declared, roamed, area, outcome):
    r = run(facts(*declared), src("roaming", *roamed), src("risk", area))
    assert r.outcome == outcome


def test_roamed_city_in_risk_area_is_looked_up_in_a_second_pass():
    roam = src("roaming", roaming("4201", 6, 5))
    areas = src("risk", risk("420100", 60))
    r = run(facts(), roam, areas)
    assert {h.outcome for h in r.hits} == {"risk_area", "mismatch"}
    assert r.outcome == "risk_area"
    assert areas.calls[0]["places"] == ["370102"]
    assert areas.calls[1]["places"] == ["420100"] or areas.calls[1]["places"] == ["4201"]


# --------------------------------------------------------------------------- registries


def test_close_contact_registry_is_red_list():
    r = run(facts(), src("cc", ("close_contact", {"id_hash": IDH, "listed_at": "2020-03-18"})))
    assert r.outcome == "close_contact" and r.red_list
    assert r.hits[0].kind == "close_contact" and r.hits[0].record_key == "cc-0"


@pytest.mark.parametrize("kind", ["confirmed", "suspected"])
def test_confirmed_or_suspected_registry_is_confirmed(kind):
    r = run(facts(), src("cases", (kind, {"id_hash": IDH, "status": kind, "listed_at": "2020-03-18"})))
    assert r.outcome == "confirmed" and r.red_list
    assert kind in r.hits[0].explanation


def test_registry_of_someone_else_is_ignored_even_if_source_returns_it():
    leaky = Unfiltered("leaky", [Record("leaky", "confirmed", "k1", {"id_hash": OTHER_IDH, "status": "confirmed"})],
                  fresh_as_of=NOW)
    assert run(facts(), leaky).outcome == "clear"


def test_most_severe_wins_and_all_hits_are_listed():
    r = run(
        facts(("420106", 10, 3)),
        src("roaming", roaming("1101", 6, 5)),
        src("risk", risk("420100", 60)),
        src("cc", ("close_contact", {"id_hash": IDH, "listed_at": "2020-03-18"})),
        src("cases", ("confirmed", {"id_hash": IDH, "status": "confirmed", "listed_at": "2020-03-18"})),
    )
    assert r.outcome == "confirmed" and r.red_list
    assert [h.outcome for h in r.hits] == ["confirmed", "close_contact", "risk_area", "mismatch"]


# --------------------------------------------------------------------------- R14 incomplete


def test_r14_stale_source_is_incomplete_never_clear():
    stale = src("roaming", fresh=NOW - timedelta(hours=30), max_age=timedelta(hours=24))
    r = run(facts(), stale, src("cc"))
    assert r.outcome == "incomplete" and not r.complete
    st = {s.name: s for s in r.sources}
    assert st["roaming"].status == "stale" and "older than" in st["roaming"].detail
    assert st["cc"].status == "ok"


def test_r14_source_exactly_at_max_age_is_fresh():
    r = run(facts(), src("roaming", fresh=NOW - timedelta(hours=24), max_age=timedelta(hours=24)))
    assert r.outcome == "clear"


def test_r14_naive_fresh_as_of_is_read_as_utc():
    r = run(facts(), src("roaming", fresh=(NOW - timedelta(hours=2)).replace(tzinfo=None)))
    assert r.sources[0].status == "ok"


def test_r14_unavailable_source_is_incomplete_never_clear():
    r = run(facts(), src("cc", unavailable=True), src("roaming"))
    assert r.outcome == "incomplete"
    assert r.sources[0].status == "unavailable" and "unavailable" in r.sources[0].detail


def test_r14_crashing_source_is_unavailable_not_a_crash():
    class Broken(InMemorySource):
        def lookup(self, **kw):
            raise ConnectionError("db down")

    r = run(facts(), Broken("db", fresh_as_of=NOW))
    assert r.outcome == "incomplete" and "ConnectionError" in r.sources[0].detail


class Unfiltered(InMemorySource):
    def lookup(self, **kw):
        return list(self.records)


def test_r14_malformed_record_makes_source_unavailable():
    bad = Unfiltered("roaming", [Record("roaming", "roaming", "r1", {"phone_hash": PH, "city": "4201",
                                                                      "from": "yesterday"})], fresh_as_of=NOW)
    r = run(facts(), bad)
    assert r.outcome == "incomplete" and r.sources[0].status == "unavailable"
    assert "malformed" in r.sources[0].detail


def test_r14_no_sources_is_incomplete():
    r = run(facts())
    assert r.outcome == "incomplete" and not r.complete and r.notes


def test_r14_mismatch_with_stale_source_is_incomplete_but_hit_kept():
    r = run(facts(), src("roaming", roaming("1101", 6, 5)), src("cc", unavailable=True))
    assert r.outcome == "incomplete" and r.worst_hit == "mismatch" and len(r.hits) == 1


def test_r12_red_list_hit_stands_even_if_another_source_is_missing():
    r = run(facts(), src("cc", ("close_contact", {"id_hash": IDH})), src("roaming", unavailable=True))
    assert r.outcome == "close_contact" and r.red_list and not r.complete


def test_now_must_be_aware():
    with pytest.raises(ValueError, match="timezone-aware"):
        compare(declaration=facts(), sources=[], now=datetime(2020, 3, 20))


def test_window_uses_shanghai_date():
    # 2020-03-20 17:00 UTC is already 2020-03-21 in Shanghai
    r = compare(declaration=facts(), sources=[src("x")], now=datetime(2020, 3, 20, 17, 0, tzinfo=timezone.utc))
    assert r.window_end == date(2020, 3, 21) and r.window_start == date(2020, 3, 8)


# --------------------------------------------------------------------------- output


def test_to_dict_is_json_safe_and_holds_no_hashes():
    r = run(facts(), src("roaming", roaming("1101", 6, 5)), src("cc", unavailable=True))
    d = r.to_dict()
    text = json.dumps(d)
    assert PH not in text and IDH not in text
    assert d["outcome"] == "incomplete"
    assert d["sources"][0].keys() >= {"name", "version", "fresh_as_of", "status"}
    assert d["hits"][0].keys() >= {"source", "source_version", "record_key", "kind", "explanation"}


def test_from_application_hashes_and_declares_home():
    payload = make_examples(TODAY)["arrival"]["value"]
    app = ApplicationCreate.model_validate(payload, context={"today": TODAY})
    f = DeclarationFacts.from_application(app, hash_key=KEY)
    assert f.id_hash == IDH and f.phone_hash == PH
    assert f.home == "370102" and f.home_from == app.arrival_date
    assert [s.place for s in f.stays] == ["GBR", "110105"]
    # the example person (Li Na) came home via Beijing: consistent roaming is clear
    r = run(f, src("roaming", roaming("1101", 2, 1), roaming("3701", 1, 0)),
            src("border", ("border_entry", {"id_hash": IDH, "port": "PEK", "date": ago(2).isoformat()})))
    assert r.outcome == "clear"


def test_duck_typed_declaration():
    class Decl:
        id_hash = IDH
        phone_hash = PH
        residence_history = [{"place": "420106", "from_date": ago(6), "to_date": ago(5)}]

    assert run(Decl(), src("roaming", roaming("4201", 6, 5))).outcome == "clear"


def test_source_unavailable_is_an_exception():
    assert issubclass(SourceUnavailable, Exception)
    with pytest.raises(ValueError, match="unknown record kind"):
        Record("s", "gossip", "k", {})
