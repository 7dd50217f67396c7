"""Pass claims: the minimum a checkpoint needs, nothing that identifies a person by itself.

Claim set (all short names, the QR is small):

==== ============================================================================
pid  pass id (the store's key of the pass)
col  colour: ``green`` | ``yellow`` | ``red``
iat  issued at, epoch seconds (int)
exp  valid until, epoch seconds (int); the pass is valid in ``[iat, exp)``
reg  issuing region, GB/T 2260 code (2, 4 or 6 digits; Shandong is 37). The pass is
     valid province-wide (R2): ``reg`` says who issued it, it scopes nothing.
nam  masked name (see :func:`mask_name`)
idh  keyed hash of the ID number (see :func:`id_hash`): lets a checkpoint that holds
     the key compare it with an ID document; useless to anyone without the key
crd  card type display name (R1: one card type, "Shandong Health Pass Card")
==== ============================================================================

Never: raw ID number, phone, address, health data (temperature, symptoms, history).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import unicodedata
from datetime import datetime

__all__ = [
    "COLOURS",
    "CARD_NAME",
    "CARD_NAME_ZH",
    "LEGACY_CARD_NAMES",
    "CLAIM_KEYS",
    "mask_name",
    "id_hash",
    "build_claims",
    "display_card_name",
]

COLOURS = ("green", "yellow", "red")
CARD_NAME = "Shandong Health Pass Card"
CARD_NAME_ZH = "山东省健康通行卡"
# R1: cards issued under the old name stay valid and show under the new one.
LEGACY_CARD_NAMES = frozenset(
    {
        "Health Pass Card for Returned Overseas Students",
        "留学回国人员健康通行卡",
    }
)
CLAIM_KEYS = frozenset({"pid", "col", "iat", "exp", "reg", "nam", "idh", "crd"})
_REGION = re.compile(r"\d{2}(?:\d{2}){0,2}")
_MIN_HASH_KEY = 16

def _is_letter(ch: str) -> bool:
    """Letters, marks and digits are masked; punctuation, symbols and spaces are
    separators that stay visible (``·`` in ethnic-minority names, ``-``, ``'``, space)."""
    return unicodedata.category(ch)[0] in "LMN"


def _is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return (
        0x3400 <= cp <= 0x4DBF  # CJK extension A
        or 0x4E00 <= cp <= 0x9FFF  # CJK unified ideographs
        or 0xF900 <= cp <= 0xFAFF  # compatibility ideographs
        or 0x20000 <= cp <= 0x3134F  # extensions B-G
    )


def mask_name(name: str) -> str:
    """Masked display name; never the full name.

    Rules (after NFC normalisation and collapsing whitespace):

    - Names written in Chinese characters: keep the first and the last character, a
      ``*`` for each one between; a two-character name keeps the first only:
      ``张三 → 张*``, ``张小三 → 张*三``, ``欧阳小明 → 欧**明``. Separators such as
      ``·`` stay: ``买买提·艾力 → 买**·*力``.
    - Other names (Latin etc.): each word keeps its first letter, a ``*`` for every
      further letter: ``John Smith → J*** S****``, ``Mary-Jane O'Neil → M***-J*** O'N***``.
    - If those rules would leave the name unchanged (e.g. ``张`` or ``J K``), every
      letter becomes ``*``. A name without any letter is refused (``ValueError``).
    - Letters are Unicode letters, marks and digits; anything else (space, ``·``,
      ``-``, ``'``, …) separates words and stays visible.
    """
    if not isinstance(name, str):
        raise TypeError("name must be a string")
    text = " ".join(unicodedata.normalize("NFC", name).split())
    if not text:
        raise ValueError("name is empty")
    letters = [i for i, ch in enumerate(text) if _is_letter(ch)]
    if not letters:
        raise ValueError("name has no letters")
    chars = list(text)
    if any(_is_cjk(text[i]) for i in letters):
        keep = {letters[0]} if len(letters) <= 2 else {letters[0], letters[-1]}
        masked = ["*" if i in letters and i not in keep else ch for i, ch in enumerate(chars)]
    else:
        masked = []
        word_start = True
        for ch in chars:
            if not _is_letter(ch):
                masked.append(ch)
                word_start = True
            else:
                masked.append(ch if word_start else "*")
                word_start = False
    result = "".join(masked)
    if result == text:
        result = "".join("*" if _is_letter(ch) else ch for ch in text)
    return result


def normalise_id_number(id_number: str) -> str:
    """Upper case, no whitespace or dashes: ``'37010219491231002x '`` → ``'37010219491231002X'``."""
    text = unicodedata.normalize("NFKC", id_number)
    return "".join(ch for ch in text if not ch.isspace() and ch != "-").upper()


def id_hash(id_number: str, *, key: bytes) -> str:
    """HMAC-SHA256 of the normalised ID number under ``key``, base64url without padding.

    The key (≥ 16 bytes, from settings, never in the QR) makes the hash useless for a
    dictionary attack: resident ID numbers have too little entropy for a plain hash.
    """
    if not isinstance(key, (bytes, bytearray)) or len(key) < _MIN_HASH_KEY:
        raise ValueError(f"hash key must be at least {_MIN_HASH_KEY} bytes")
    normalised = normalise_id_number(id_number)
    if not normalised:
        raise ValueError("ID number is empty")
    digest = hmac.new(bytes(key), normalised.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _epoch(name: str, value: datetime) -> int:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")
    return int(value.timestamp())


def build_claims(
    *,
    pass_id: str,
    colour: str,
    issued_at: datetime,
    valid_until: datetime,
    region: str,
    name: str,
    id_number: str,
    hash_key: bytes,
    card_name: str = CARD_NAME,
) -> dict:
    """The claims of one pass. ``name`` and ``id_number`` go in masked / hashed only."""
    if not isinstance(pass_id, str) or not pass_id:
        raise ValueError("pass_id is empty")
    if colour not in COLOURS:
        raise ValueError(f"colour must be one of {COLOURS}, not {colour!r}")
    if not isinstance(region, str) or not _REGION.fullmatch(region):
        raise ValueError(f"region must be a GB/T 2260 code of 2, 4 or 6 digits, not {region!r}")
    iat = _epoch("issued_at", issued_at)
    exp = _epoch("valid_until", valid_until)
    if exp <= iat:
        raise ValueError("valid_until must be after issued_at")
    return {
        "pid": pass_id,
        "col": colour,
        "iat": iat,
        "exp": exp,
        "reg": region,
        "nam": mask_name(name),
        "idh": id_hash(id_number, key=hash_key),
        "crd": card_name,
    }


def display_card_name(crd: object) -> str:
    """R1: the current card name for the current and every legacy card name."""
    if crd is None or crd == CARD_NAME or crd in LEGACY_CARD_NAMES:
        return CARD_NAME
    return str(crd)
