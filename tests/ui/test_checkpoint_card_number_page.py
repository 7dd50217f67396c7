"""The checkpoint page with a card number typed by hand (R3): full-width input is read, a
typing mistake is answered "check the number" instead of a DENY for an unknown card."""
from __future__ import annotations

import re

from tests.ui.test_pages import csrf, sign_in
from tests.verify_support import green_pass


def _words(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def test_r3_checkpoint_page_reads_full_width_and_says_check_the_number(api, seeded, clock):
    card = green_pass(api, seeded, clock)["card_number"]
    assert sign_in(api, "checkpoint").status_code == 303
    token = csrf(api, "/checkpoint")
    full_width = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in card)
    ok = api.post("/checkpoint", data={"card_number": full_width, "temperature": "36.5", "csrf_token": token})
    assert ok.status_code == 200 and "verdict-pass" in ok.text, _words(ok.text)
    wrong = card[:-1] + ("A" if card[-1] != "A" else "B")
    r = api.post("/checkpoint", data={"card_number": wrong, "temperature": "36.5", "csrf_token": token})
    words = _words(r.text)
    assert r.status_code == 422 and "Check the number" in words and "DENY" not in words
