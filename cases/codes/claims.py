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
idh  per-pass keyed hash of the ID number and the pass id (see :func:`pass_id_hash`):
     a checkpoint that holds the checkpoint key checks it against an ID document
     (:func:`idh_matches`); two passes of one person carry unrelated values, and no
     value equals the store's ``applicant.id_hash``. Format ``2.<base64url>``; passes
     signed before per-pass hashes carry a bare base64url value (not checkable)
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
    "CARD_NAME",
    "CARD_NAME_ZH",
    "CLAIM_KEYS",
    "COLOURS",
    "LEGACY_CARD_NAMES",
    "build_claims",
    "checkpoint_idh_key",
    "display_card_name",
    "id_hash",
    "idh_matches",
    "mask_name",
    "normalise_document_number",
    "pass_id_hash",
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


IDH_PREFIX = "2."  # per-pass idh; a bare value is the old person-wide hash
_IDH_KEY_LABEL = b"SDHP idh checkpoint key v2"
_IDH_MESSAGE_LABEL = b"SDHP-idh-v2"


def checkpoint_idh_key(secret: bytes) -> bytes:
    """The key a checkpoint holds to check ``idh``: HMAC-SHA256(secret, label).

    Derived from the ``idhash`` secret under its own label, so a checkpoint that holds it
    cannot compute the store's ``applicant.id_hash`` (keyed with the secret itself). Why a
    key at all: an ID number has ~30 bits of entropy (region, birth date, sequence), so an
    unkeyed hash over the pass id would give the number away to anyone who scans the QR."""
    if not isinstance(secret, (bytes, bytearray)) or len(secret) < _MIN_HASH_KEY:
        raise ValueError(f"hash key must be at least {_MIN_HASH_KEY} bytes")
    return hmac.new(bytes(secret), _IDH_KEY_LABEL, hashlib.sha256).digest()


def normalise_document_number(id_number: str) -> str:
    """The normalisation of ``validation.keyed_hash`` (whitespace removed, upper case), after
    NFKC so full-width characters typed on a Chinese keyboard read as their ASCII forms."""
    if not isinstance(id_number, str):
        raise TypeError("id_number must be a string")
    return "".join(unicodedata.normalize("NFKC", id_number).split()).upper()


def pass_id_hash(*, pass_id: str, id_number: str, key: bytes) -> str:
    """``idh`` of one pass: ``"2." + base64url(HMAC-SHA256(key, "SDHP-idh-v2" 0x00 pid 0x00 N))``
    without padding, where ``key`` is :func:`checkpoint_idh_key` and ``N`` the ID number after
    :func:`normalise_document_number` (UTF-8). The pass id in the message makes the values of
    two passes of one person unrelated."""
    if not isinstance(pass_id, str) or not pass_id:
        raise ValueError("pass_id is empty")
    normalised = normalise_document_number(id_number)
    if not normalised:
        raise ValueError("ID number is empty")
    message = b"\x00".join((_IDH_MESSAGE_LABEL, pass_id.encode("utf-8"), normalised.encode("utf-8")))
    digest = hmac.new(bytes(key), message, hashlib.sha256).digest()
    return IDH_PREFIX + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def idh_matches(claims: dict, id_number: str, *, key: bytes) -> bool | None:
    """Does the ID document shown at the checkpoint belong to this pass? ``key`` is
    :func:`checkpoint_idh_key`. ``None`` when the pass cannot tell (no ``idh``, or an
    ``idh`` of the old person-wide kind); trust the claims (a verified pass) before asking."""
    idh, pid = claims.get("idh"), claims.get("pid")
    if not isinstance(idh, str) or not idh.startswith(IDH_PREFIX) or not isinstance(pid, str) or not pid:
        return None
    try:
        expected = pass_id_hash(pass_id=pid, id_number=id_number, key=key)
    except ValueError:  # empty, or not encodable (a lone surrogate): no document number matches
        return False
    return hmac.compare_digest(idh, expected)


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
    """The claims of one pass. ``name`` and ``id_number`` go in masked / hashed only;
    ``hash_key`` is the ``idhash`` secret (``idh`` uses the checkpoint key derived from it)."""
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
        "idh": pass_id_hash(pass_id=pass_id, id_number=id_number, key=checkpoint_idh_key(hash_key)),
        "crd": card_name,
    }


def display_card_name(crd: object) -> str:
    """R1: the current card name for the current and every legacy card name."""
    if crd is None or crd == CARD_NAME or crd in LEGACY_CARD_NAMES:
        return CARD_NAME
    return str(crd)
