"""R1: cards issued under the old name "Health Pass Card for Returned Overseas Students",
imported from CSV, verify at a checkpoint under the new name "Shandong Health Pass Card"."""
from __future__ import annotations

import base64
import csv
import json
from datetime import datetime, timedelta, timezone

from sqlalchemy import func
from sqlmodel import select
from typer.testing import CliRunner

from ops.cli import app
from cases.models import Pass
from cases.services.legacy import import_legacy_cards
from cases.validation import resident_id_check_char
from tests.conftest import login

OLD = "Health Pass Card for Returned Overseas Students"
OLD_ZH = "留学回国人员健康通行卡"
NEW = "Shandong Health Pass Card"
HEADER = "card_name,name,id_type,id_number,colour,issued_at,region,legacy_number\n"
runner = CliRunner()


def rid(body17: str) -> str:
    return body17 + resident_id_check_char(body17)


ID_A = rid("37010219900101123")
ID_B = rid("37020219851231002")


def run_import(store, clock, text: str):
    with store.session() as s:
        report = import_legacy_cards(session=s, text=text, at=clock.now(), settings=store.settings)
        s.commit()
    return report


def verify(api, **body):
    # A typed card number needs the checkpoint operator's sign-in; a QR does not.
    headers = login(api, "checkpoint") if "card_number" in body else {}
    r = api.post("/api/v1/checkpoint/verify", json={"temperature": 36.5, **body}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def claims_of(token: str) -> dict:
    payload = token.split(":", 1)[-1].split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_r1_legacy_green_card_passes_the_checkpoint_under_the_new_name(api, seeded, clock):
    text = HEADER + (
        f"{OLD},张小三,resident_id,{ID_A},green,2026-03-01T10:00:00+08:00,370102001001,LHP-000123\n"
        f"{OLD_ZH},John Smith,passport,E12345678,yellow,2026-03-02T09:30:00+08:00,370102,\n"
    )
    report = run_import(seeded, clock, text)
    assert (report.imported, report.already_present, report.expired, report.rejected) == (2, 0, 0, [])
    green, yellow = report.cards
    assert green.legacy_number == "LHP-000123" and green.masked_name == "张*三" and green.status == "imported"
    assert ID_A not in json.dumps(report.to_dict(), ensure_ascii=False)

    with seeded.session() as s:
        p = s.get(Pass, green.pass_id)
    assert p.application_id is None and p.issued_by == "legacy-import" and p.card_name == OLD
    assert p.valid_until - p.issued_at == timedelta(days=14)  # R2
    assert p.issued_at == datetime(2026, 3, 1, 2, 0, tzinfo=timezone.utc) and p.region_code == "370102001001"
    signed = claims_of(p.token)
    assert signed["crd"] == OLD and signed["reg"] == "370102" and signed["nam"] == "张*三"
    assert ID_A not in p.token and "id_number" not in signed

    by_number = verify(api, card_number=green.card_number)
    by_qr = verify(api, qr=p.token)
    for d in (by_number, by_qr):
        assert d["result"] == "PASS" and d["reasons"] == []
        assert d["card_name"] == NEW and d["colour"] == "green" and d["masked_name"] == "张*三"
        assert d["isolation_required"] is False
    # A legacy yellow card (Chinese old name) is shown under the new name too, and denied.
    d = verify(api, card_number=yellow.card_number)
    assert d["result"] == "DENY" and d["reasons"] == ["yellow"] and d["card_name"] == NEW


def test_r1_expired_legacy_card_is_imported_reported_and_denied_expired(api, seeded, clock):
    text = HEADER + f"{OLD},李四,resident_id,{ID_B},green,2026-02-01T08:00:00+08:00,370102,OLD-7\n"
    report = run_import(seeded, clock, text)
    assert report.imported == 1 and report.expired == 1 and report.rejected == []
    card = report.cards[0]
    assert card.expired and card.valid_until == datetime(2026, 2, 15, 0, 0, tzinfo=timezone.utc)
    d = verify(api, card_number=card.card_number)
    assert d["result"] == "DENY" and d["reasons"] == ["expired"] and d["card_name"] == NEW


def test_r1_bad_rows_are_rejected_with_line_and_reason_and_no_raw_id(seeded, clock):
    bad_check = ID_A[:-1] + ("0" if ID_A[-1] != "0" else "1")
    future_born = rid("37010220300101123")
    good = f"{OLD},张小三,resident_id,{ID_A},green,2026-03-01T10:00:00+08:00,370102001001,A1"
    lines = [
        HEADER.strip(),  # 1
        good,  # 2
        "# a comment line is skipped",  # 3
        f"Overseas Student Card,王五,resident_id,{ID_B},green,2026-03-01T10:00:00+08:00,370102,",  # 4
        f"{OLD},王五,resident_id,{ID_B},blue,2026-03-01T10:00:00+08:00,370102,",  # 5
        f"{OLD},王五,resident_id,{bad_check},green,2026-03-01T10:00:00+08:00,370102,",  # 6
        f"{OLD},王五,resident_id,{future_born},green,2026-03-01T10:00:00+08:00,370102,",  # 7
        "",  # 8 blank
        f"{OLD},王五,resident_id,{ID_B},green,2026-03-01T10:00:00,370102,",  # 9
        f"{OLD},王五,resident_id,{ID_B},green,2026-03-04T10:00:00+08:00,370102,",  # 10
        f"{OLD},王五,resident_id,{ID_B},green,2026-03-01T10:00:00+08:00,370102999999,",  # 11
        f"{OLD},王五,resident_id,{ID_B},green,2026-03-01T10:00:00+08:00,3701,",  # 12
        f"{OLD},,resident_id,{ID_B},green,2026-03-01T10:00:00+08:00,370102,",  # 13
        good.replace("张小三", "张 小三").replace(",A1", ",A2"),  # 14: same card as line 2
        f"{OLD},王五,resident_id,{ID_B},green,2026-03-01T10:00:00+08:00,370102,,extra",  # 15
        f"{OLD},王五,driver_licence,D1234567,green,2026-03-01T10:00:00+08:00,370102,",  # 16
        f"{OLD},王五,resident_id,{ID_B},green,2026-03-01T10:00:00+08:00,370102,A1",  # 17: A1 is line 2's card
    ]
    report = run_import(seeded, clock, "\n".join(lines) + "\n")
    assert report.imported == 1 and report.cards[0].line == 2
    reasons = {r["line"]: r["reason"] for r in report.rejected}
    assert sorted(reasons) == [4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17], reasons
    assert "is not a legacy or the current card name" in reasons[4]
    assert "colour 'blue'" in reasons[5]
    assert "not a valid resident_id" in reasons[6] and "check character" in reasons[6] and "3701" in reasons[6]
    assert "not a valid resident_id" in reasons[7] and "in the future" in reasons[7]
    assert "no UTC offset" in reasons[9]
    assert "after the import" in reasons[10]
    assert "not a known community" in reasons[11]
    assert "6-digit county or a 12-digit community" in reasons[12]
    assert reasons[13] == "name is empty"
    assert "duplicate of line 2" in reasons[14]
    assert "9 fields, the header has 8" in reasons[15]
    assert "id_type 'driver_licence'" in reasons[16]
    assert "legacy_number 'A1' is also on line 2" in reasons[17]
    everything = json.dumps(report.rejected, ensure_ascii=False)
    for raw in (ID_A, ID_B, bad_check, future_born, "20300101", "2030-01-01", "王五"):
        assert raw not in everything, raw
    with seeded.session() as s:
        assert s.exec(select(func.count()).select_from(Pass)).one() == 1


def test_r1_reimport_is_idempotent_and_keeps_revocations(api, seeded, clock):
    text = HEADER + (
        f"{OLD},张小三,resident_id,{ID_A},green,2026-03-01T10:00:00+08:00,370102001001,LHP-1\n"
        f"{OLD},李四,resident_id,{ID_B},green,2026-02-01T08:00:00+08:00,370102,LHP-2\n"
    )
    first = run_import(seeded, clock, text)
    assert first.imported == 2
    # The same cards written differently: UTC instant, lower-case check character, spaces.
    same = HEADER + (
        f"{OLD},张小三,resident_id,{ID_A.lower()},GREEN,2026-03-01T02:00:00Z,370102001001,LHP-1\n"
        f" {OLD} ,李四,resident_id,{ID_B},green,2026-02-01T00:00:00+00:00,370102,LHP-2\n"
    )
    again = run_import(seeded, clock, same)
    assert (again.imported, again.already_present, again.rejected) == (0, 2, [])
    assert [(c.pass_id, c.card_number) for c in again.cards] == [(c.pass_id, c.card_number) for c in first.cards]
    # Another colour or another card name is another card.
    other = run_import(seeded, clock, HEADER + f"{OLD_ZH},张小三,resident_id,{ID_A},green,2026-03-01T10:00:00+08:00,370102001001,\n")
    assert other.imported == 1 and other.cards[0].pass_id != first.cards[0].pass_id
    with seeded.session() as s:
        assert s.exec(select(func.count()).select_from(Pass)).one() == 3
    # R2: one valid pass per person - the other card of the same person supersedes the first.
    assert verify(api, card_number=first.cards[0].card_number)["reasons"] == ["superseded"]
    # A revoked legacy card stays revoked when the file is imported again.
    from cases.services import checkpoint
    from cases.services.passes import revoke

    with seeded.session() as s:
        revoke(session=s, pass_=s.get(Pass, first.cards[1].pass_id), reason="reported lost", by="test", at=clock.now())
        s.commit()
    checkpoint.invalidate()
    third = run_import(seeded, clock, text)
    assert third.imported == 0 and third.cards[0].revoked and third.cards[1].revoked
    assert verify(api, card_number=first.cards[1].card_number)["reasons"] == ["revoked", "expired"]  # issued 1 February


def test_r1_cli_import_legacy_writes_the_reprint_mapping_and_fails_cleanly(seeded, clock, tmp_path):
    missing = runner.invoke(app, ["pass", "import-legacy", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2 and "cannot read" in missing.output and "Traceback" not in missing.output
    bad = tmp_path / "bad.csv"
    bad.write_text("card_name,name,id_number,colour,issued_at,region,color\n")
    r = runner.invoke(app, ["pass", "import-legacy", str(bad)])
    assert r.exit_code == 2 and "bad header" in r.output and "id_type" in r.output and "'color'" in r.output
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    r = runner.invoke(app, ["pass", "import-legacy", str(empty)])
    assert r.exit_code == 2 and "no header" in r.output

    feed = tmp_path / "legacy.csv"
    feed.write_text(HEADER + (
        f"{OLD},张小三,resident_id,{ID_A},green,2026-03-01T10:00:00+08:00,370102001001,LHP-1\n"
        f"{OLD},李四,resident_id,{ID_B},green,2026-02-01T08:00:00+08:00,370102,LHP-2\n"
        f"{OLD},王五,resident_id,{ID_B[:-1]}0,green,2026-03-01T08:00:00+08:00,370102,LHP-3\n"
    ), encoding="utf-8-sig")
    r = runner.invoke(app, ["pass", "import-legacy", str(feed), "--out", str(tmp_path / "no-such-dir" / "map.csv")])
    assert r.exit_code == 2 and "--out" in r.output
    mapping = tmp_path / "map.csv"
    r = runner.invoke(app, ["pass", "import-legacy", str(feed), "--out", str(mapping)])
    assert r.exit_code == 0, r.output
    assert "2 imported, 0 already present, 1 rejected (1 expired)" in r.output
    assert "line 3: expired" in r.output and "line 4: id_number" in r.output
    assert ID_B[:-1] not in r.output
    rows = list(csv.DictReader(mapping.open(encoding="utf-8")))
    assert [(row["line"], row["legacy_number"], row["status"], row["expired"]) for row in rows] == [("2", "LHP-1", "imported", "no"), ("3", "LHP-2", "imported", "yes")]
    with seeded.session() as s:
        for row in rows:
            p = s.get(Pass, row["pass_id"])
            assert p.card_number == row["card_number"] and p.card_name == OLD == row["card_name"]
    again = runner.invoke(app, ["pass", "import-legacy", str(feed), "--out", str(mapping)])
    assert again.exit_code == 0 and "0 imported, 2 already present" in again.output
    assert [row["pass_id"] for row in csv.DictReader(mapping.open(encoding="utf-8"))] == [row["pass_id"] for row in rows]
