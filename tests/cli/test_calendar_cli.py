"""`healthpass calendar import FILE` (R11): a year's official schedule, validated line by
line, stored, and applied to the provisional deadlines."""
from __future__ import annotations

from pathlib import Path

from sqlmodel import select
from typer.testing import CliRunner

from ops.cli import app
from cases.models import CalendarOverride, CalendarYear
from tests.sla_store.sla_support import local, open_case, seed_store

runner = CliRunner()
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "calendar-2027.example.txt"


def test_r11_calendar_import_of_the_example_file_covers_2027(sqlite_store, clock):
    dry = runner.invoke(app, ["calendar", "import", str(EXAMPLE), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "2027-02-20 Sat  workday  春节调休" in dry.output and "nothing stored" in dry.output
    with sqlite_store.session() as s:
        assert s.exec(select(CalendarYear)).all() == []
    result = runner.invoke(app, ["calendar", "import", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert "imported the official schedule of 2027" in result.output
    with sqlite_store.session() as s:
        row = s.get(CalendarYear, 2027)
        assert row.imported_at is not None and row.source_name == EXAMPLE.name and row.workdays == 4
        days = s.exec(select(CalendarOverride).where(CalendarOverride.source == "official")).all()
        assert len(days) == row.holidays + row.workdays
    status = runner.invoke(app, ["calendar", "status"])
    assert "2027: official (imported" in status.output


def test_r11_calendar_import_recomputes_a_provisional_deadline(sqlite_store, clock, tmp_path):
    clock.set(local("2026-12-31 16:00"))
    seed_store(sqlite_store, clock)
    case, _ = open_case(sqlite_store, clock)
    schedule = tmp_path / "2027.txt"
    schedule.write_text("year 2027\n2027-01-01 holiday 元旦\n2027-01-02 workday 元旦调休 (test data)\n", encoding="utf-8")
    result = runner.invoke(app, ["calendar", "import", str(schedule)])
    assert result.exit_code == 0, result.output
    assert "recomputed 1 provisional deadline(s)" in result.output
    assert f"{case}: 2027-01-04 14:30 -> 2027-01-02 14:30" in result.output


def test_r11_calendar_import_errors_name_the_lines_and_store_nothing(sqlite_store, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text(
        "year 2027\n"
        "2027-02-06 holiday 春节\n"
        "2027-02-06 workday 春节调休\n"  # both
        "2028-01-01 holiday 元旦\n"  # other year
        "2027-02-03 workday 调休\n"  # a Wednesday
        "2027-10-01 holiday\n",  # no name
        encoding="utf-8",
    )
    result = runner.invoke(app, ["calendar", "import", str(bad)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    for expected in (":3: 2027-02-06 is both a holiday and a working day (see line 2)", ":4: 2028-01-01 is not in the declared year 2027",
                     ":5: 2027-02-03 is a Wednesday", ":6: a holiday needs a name", "4 problem(s); nothing imported"):
        assert expected in result.output, result.output
    with sqlite_store.session() as s:
        assert s.exec(select(CalendarOverride)).all() == [] and s.exec(select(CalendarYear)).all() == []


def test_r11_calendar_import_unreadable_file_is_a_message(sqlite_store, tmp_path):
    missing = runner.invoke(app, ["calendar", "import", str(tmp_path / "nope.txt")])
    assert missing.exit_code == 2 and "cannot read" in missing.output and "Traceback" not in missing.output
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"year 2027\n\xff\xfe\n")
    result = runner.invoke(app, ["calendar", "import", str(binary)])
    assert result.exit_code == 2 and "not UTF-8" in result.output
