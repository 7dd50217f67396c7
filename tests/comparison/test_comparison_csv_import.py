"""CSV import of comparison feeds: hashing on import, rejected-row report."""

import json
from datetime import date, datetime, timedelta, timezone

import pytest

from cases.comparison import InMemorySource, compare
from cases.comparison.csv_import import SOURCES, parse_source_csv, rows_to_records
from cases.comparison.engine import DeclarationFacts, DeclaredStay
from cases.validation import DATA_DIR, hash_id_number, hash_phone, keyed_hash

KEY = b"csv-test-key-0123456789abcdef012"
TODAY = date(2020, 3, 20)


def parse(source, text, **kw):
    return parse_source_csv(source, text, hash_key=KEY, today=TODAY, **kw)


def test_risk_areas_rows_and_rejections():
    text = (
        "region,level,from,to\n"
        "420100,high,2020-01-20,\n"          # line 2 ok, still listed
        "gbr,High,2020-03-01,2020-03-10\n"   # line 3 ok, country
        "4201,high,2020-01-20,\n"            # line 4 bad region
        "420100,severe,2020-01-20,\n"        # line 5 bad level
        "420100,high,2020-03-10,2020-03-01\n"  # line 6 to < from
        "420100,high,2020-04-01,\n"          # line 7 future
        "420100,high,20200120,\n"            # line 8 bad date
        "420100,high,2020-01-20,\n"          # line 9 duplicate of line 2
    )
    rows, rejected = parse("risk_areas", text)
    assert [r["line"] for r in rows] == [2, 3]
    assert rows[0]["kind"] == "risk_area"
    assert rows[0]["data"] == {"region": "420100", "level": "high", "from": "2020-01-20", "to": None}
    assert rows[1]["data"]["region"] == "GBR" and rows[1]["data"]["level"] == "high"
    report = {r.line: r.reason for r in rejected}
    assert set(report) == {4, 5, 6, 7, 8, 9}
    assert "6 digits" in report[4]
    assert "high, medium or low" in report[5]
    assert "before from" in report[6]
    assert "future" in report[7]
    assert "YYYY-MM-DD" in report[8]
    assert report[9] == "duplicate of line 2"


def test_close_contacts_are_hashed_never_stored_raw():
    idh = hash_id_number("371302198002280377", key=KEY)
    text = (
        "id_number,id_hash,listed_at\n"
        "371302198002280377,,2020-03-17\n"            # 2 ok
        "37130219800228037x,,2020-03-17\n"            # 3 bad check character
        f",{idh},2020-03-18\n"                          # 4 ok by hash
        f"371302198002280377,{idh},2020-03-17\n"       # 5 both
        ",,2020-03-17\n"                                # 6 neither
        ",not-a-hash,2020-03-17\n"                      # 7 bad hash
        "E12345678,,2020-03-16\n"                       # 8 ok passport
    )
    rows, rejected = parse("close_contacts", text)
    assert [r["line"] for r in rows] == [2, 4, 8]
    assert rows[0]["data"]["id_hash"] == idh == rows[1]["data"]["id_hash"]
    assert rows[2]["data"]["id_hash"] == keyed_hash("E12345678", key=KEY)
    blob = json.dumps(rows)
    assert "371302198002280377" not in blob and "E12345678" not in blob
    report = {r.line: r for r in rejected}
    assert "check character should be 7, got X" in report[3].reason
    assert "not both" in report[5].reason
    assert "required" in report[6].reason
    assert "43 characters" in report[7].reason
    # the rejected report masks raw numbers
    assert report[3].values["id_number"] == "3713**********037X"
    assert "371302198002280377" not in json.dumps([r.to_dict() for r in rejected])


def test_confirmed_cases_status():
    text = ("id_number,status,listed_at\n"
            "371702197510090462,confirmed,2020-03-18\n"
            "370102199003070024,Suspected,2020-03-19\n"
            "370202198511200113,recovered,2020-03-19\n")
    rows, rejected = parse("confirmed_cases", text)
    assert [(r["kind"], r["data"]["status"]) for r in rows] == [("confirmed", "confirmed"), ("suspected", "suspected")]
    assert rejected[0].line == 4 and "confirmed or suspected" in rejected[0].reason


def test_roaming_rows():
    text = (
        "phone,city,from,to,hours\n"
        "+86 139-0536-0003,1101,2020-03-14,2020-03-15,9\n"  # 2 ok, 4-digit city -> 110100
        "13905360003,370705,2020-03-07,2020-03-20,300\n"    # 3 ok
        "12345,1101,2020-03-14,2020-03-15,9\n"              # 4 bad phone
        "13905360003,9901,2020-03-14,2020-03-15,9\n"        # 5 bad city
        "13905360003,1101,2020-03-14,2020-03-15,49\n"       # 6 too many hours for 2 days
        "13905360003,1101,2020-03-14,2020-03-15,many\n"     # 7 hours not a number
        "13905360003,1101,2020-03-14\n"                     # 8 short row -> to empty
    )
    rows, rejected = parse("roaming", text)
    assert [r["line"] for r in rows] == [2, 3]
    assert rows[0]["data"] == {"phone_hash": hash_phone("13905360003", key=KEY), "city": "110100",
                               "from": "2020-03-14", "to": "2020-03-15", "hours": 9.0}
    assert "13905360003" not in json.dumps(rows)
    report = {r.line: r.reason for r in rejected}
    assert report[4].startswith("phone:")
    assert "province code" in report[5]
    assert "does not fit" in report[6]
    assert "not a number" in report[7]
    assert "to is empty" in report[8]
    assert rejected[0].values["phone"] == "***45"


def test_border_entries_and_extra_fields_row():
    text = ("id_number,port,date\n"
            "370102199003070024,Beijing Capital Airport,2020-03-18\n"
            "370102199003070024,,2020-03-18\n"
            "370102199003070024,PEK,2020-03-18,surplus\n")
    rows, rejected = parse("border_entries", text)
    assert rows[0]["kind"] == "border_entry" and rows[0]["data"]["port"] == "Beijing Capital Airport"
    assert [(r.line, r.reason) for r in rejected] == [(3, "port is empty"), (4, "4 fields, the header has 3")]


def test_comments_blank_lines_bom_and_quoted_newlines_keep_line_numbers():
    text = ("\ufeff# comment\n"
            "\n"
            "region,level,from,to\n"
            "# another\n"
            "420100,high,2020-01-20,\n"
            '"420100",high,"2020-\n01-21",\n'
            "430100,extreme,2020-01-20,\n")
    rows, rejected = parse("risk_areas", text)
    assert [r["line"] for r in rows] == [5]
    assert [r.line for r in rejected] == [6, 8]


def test_relative_dates_only_when_allowed():
    text = "region,level,from,to\n420100,high,today-60,today\n"
    rows, _ = parse("risk_areas", text, allow_relative_dates=True)
    assert rows[0]["data"]["from"] == (TODAY - timedelta(days=60)).isoformat()
    assert rows[0]["data"]["to"] == TODAY.isoformat()
    rows, rejected = parse("risk_areas", text)
    assert rows == [] and "YYYY-MM-DD" in rejected[0].reason


@pytest.mark.parametrize(
    "source, header, message",
    [
        ("roaming", "phone,city,from,to", "missing column(s): hours"),
        ("roaming", "phone,city,from,to,hours,note", "unknown column(s): note"),
        ("close_contacts", "listed_at", "id_number or id_hash"),
        ("risk_areas", "region,region,level,from", "duplicate column(s): region"),
    ],
)
def test_bad_header_rejects_the_whole_file(source, header, message):
    with pytest.raises(ValueError, match="bad header") as exc:
        parse(source, header + "\n")
    assert message in str(exc.value)


def test_unknown_source_empty_file_and_missing_key():
    with pytest.raises(ValueError, match="unknown source"):
        parse("gossip", "a\n")
    with pytest.raises(ValueError, match="no header"):
        parse("roaming", "# only a comment\n")
    with pytest.raises(ValueError, match="hash_key"):
        parse_source_csv("roaming", "phone,city,from,to,hours\n", hash_key=b"")


def test_keys_are_stable_across_imports():
    text = "region,level,from,to\n420100,high,2020-01-20,\n"
    assert parse("risk_areas", text)[0][0]["key"] == parse("risk_areas", text)[0][0]["key"]


# --------------------------------------------------------------------------- samples -> engine


def load_samples(today: date):
    sources = []
    for f in sorted((DATA_DIR / "samples").glob("*.csv")):
        assert f.stem in SOURCES
        rows, rejected = parse_source_csv(f.stem, f.read_text(encoding="utf-8"), hash_key=KEY,
                                          today=today, allow_relative_dates=True)
        assert rejected == [], (f.name, rejected)
        sources.append(InMemorySource(f.stem, rows_to_records(f.stem, rows), version="demo",
                                      fresh_as_of=datetime.combine(today, datetime.min.time(), timezone.utc)))
    assert len(sources) == 5
    return sources


@pytest.mark.parametrize("today", [date(2020, 3, 20), date(2024, 6, 1)])
def test_sample_feeds_give_each_demo_person_the_expected_outcome(today):
    now = datetime.combine(today, datetime.min.time(), timezone.utc) + timedelta(hours=4)  # 12:00 Shanghai
    sources = load_samples(today)
    persons = json.loads((DATA_DIR / "demo_persons.json").read_text(encoding="utf-8"))["persons"]

    def rel(s):
        return today - timedelta(days=int(s.split("-")[1])) if "-" in s else today

    outcomes = {}
    for p in persons:
        facts = DeclarationFacts(
            id_hash=hash_id_number(p["id_number"], key=KEY), phone_hash=hash_phone(p["phone"], key=KEY),
            stays=tuple(DeclaredStay(s["place"], rel(s["from"]), rel(s["to"])) for s in p["declares"]),
            home=p["community_code"][:6], home_from=rel(p["arrival_date"]) if p["arrival_date"] else None,
        )
        outcomes[p["key"]] = compare(declaration=facts, sources=sources, now=now).outcome
        assert outcomes[p["key"]] == p["expected_outcome"], p["key"]
    assert set(outcomes.values()) == {"clear", "mismatch", "risk_area", "close_contact", "confirmed"}
