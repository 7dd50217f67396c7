"""Pure input validators for the Shandong Health Pass Card system.

Every ``check_*`` function returns the *normalised* value or raises ``ValueError``
with a message meant for the applicant (pydantic turns it into a 422 that names
the field): a ``cases.messages.Msg``, English text that the pages translate.  Nothing here touches a database, the network or the clock: "today"
is always passed in by the caller.

Static data (``cases/data/``)
-----------------------------
``regions.json`` -- the Shandong region tree (rules R6, R13, R18, R20)::

    {
      "meta": {...},                      # provenance and code formats
      "province": {"code": "370000", "name_zh": "山东省", "name_en": "Shandong Province",
                   "service_account": {...}, "app": {...}},
      "cities": [
        {"code": "370100", "name_zh": "济南市", "name_en": "Jinan",
         "counties": [
           {"code": "370102", "name_zh": "历下区", "name_en": "Lixia District",
            "complaint_phone": "0531-12345", "complaint_phone_demo": true,
            "service_account": {"name_zh": "健康山东服务号",
                                "name_en": "Healthy Shandong Service Number",
                                "how_zh": "...", "how_en": "..."},
            "app": {"name_zh": "爱山东", "name_en": "Love Shandong", "how_zh": "...", "how_en": "..."},
            "communities": [
              {"code": "370102001001", "name_zh": "和平社区", "name_en": "Heping Community",
               "address": "...", "phone": "0531-60102001", "demo": true}],
            "units": [
              {"code": "U370102001", "name": "济南示范机械制造有限公司（演示）",
               "name_en": "...", "county": "370102", "demo": true}]}]}]}

Province, city and county codes/names are real GB/T 2260 codes (2-3 counties per
city); communities, units, addresses and phone numbers are demo data
(``"demo": true``).  Community code = county (6) + street (3) + community (3);
unit code = ``U`` + county (6) + 3 digits.

``address_prefixes.json`` -- ``provinces`` (2-digit province-level codes of
mainland China), ``prefectures`` (current 4-digit codes of every province),
``shandong_prefectures_current`` and ``shandong_prefectures_historical`` (codes
such as 3712 Laiwu that are gone from the list but still printed on valid IDs).

``countries.csv`` -- ISO 3166-1: ``alpha_2,alpha_3,numeric,name`` (249 rows).

Accepted identity documents
---------------------------
* resident_id: 18-character PRC resident identity number (GB 11643-1999).
* passport: ICAO 9303 document number, 5-9 letters/digits.
* hmt_permit (Hong Kong / Macao / Taiwan residents):
  - Mainland Travel Permit for Hong Kong and Macao Residents (回乡证):
    ``H`` or ``M`` followed by 8 or 10 digits (10 = card number + 2-digit issue count);
  - Mainland Travel Permit for Taiwan Residents (台胞证): 8 digits (card, since 2015),
    or the legacy booklet number of 10 digits with an optional letter in
    parentheses, normalised to ``1234567890(B)``;
  - Residence Permit for Hong Kong, Macao and Taiwan Residents (港澳台居民居住证):
    18 characters with address code 810000 / 820000 / 830000 and a valid
    GB 11643 check character.
  Taiwan numbers written with a leading ``T`` are *not* accepted (no such
  official format); write the 8 digits only.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import json
import math
import re
import unicodedata
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from cases.messages import msg

DATA_DIR = Path(__file__).resolve().parent / "data"
SHANGHAI = ZoneInfo("Asia/Shanghai")

__all__ = [
    "DATA_DIR",
    "SHANGHAI",
    "ID_WEIGHTS",
    "ID_CHECK_CHARS",
    "TEMPERATURE_MIN",
    "TEMPERATURE_MAX",
    "today_shanghai",
    "resident_id_check_char",
    "check_resident_id",
    "resident_id_birth_date",
    "check_passport",
    "mrz_check_digit",
    "check_hmt_permit",
    "check_id_number",
    "check_mobile",
    "check_temperature",
    "check_country",
    "country_name",
    "check_place",
    "check_region_code",
    "check_community_code",
    "check_unit_code",
    "check_text",
    "check_name",
    "mask_id",
    "mask_phone",
    "keyed_hash",
    "hash_id_number",
    "hash_phone",
    "load_regions",
    "province_codes",
    "shandong_prefixes",
    "region_index",
]

# --------------------------------------------------------------------------- #
# data loading (cached, read-only)
# --------------------------------------------------------------------------- #


@lru_cache(maxsize=1)
def load_regions() -> dict[str, Any]:
    """The parsed ``regions.json`` (do not mutate the returned object)."""
    with open(DATA_DIR / "regions.json", encoding="utf-8") as fh:
        return json.load(fh)


@lru_cache(maxsize=1)
def _address_prefixes() -> dict[str, Any]:
    with open(DATA_DIR / "address_prefixes.json", encoding="utf-8") as fh:
        return json.load(fh)


def province_codes() -> frozenset[str]:
    """2-digit province-level codes of mainland China (11 ... 65)."""
    return frozenset(_address_prefixes()["provinces"])


def shandong_prefixes() -> frozenset[str]:
    """4-digit Shandong prefixes accepted in an ID: current and historical."""
    ap = _address_prefixes()
    return frozenset(ap["shandong_prefectures_current"]) | frozenset(
        ap["shandong_prefectures_historical"]
    )


def _shandong_current() -> frozenset[str]:
    return frozenset(_address_prefixes()["shandong_prefectures_current"])


@lru_cache(maxsize=1)
def region_index() -> dict[str, dict[str, Any]]:
    """Flat index of ``regions.json``: code -> entry with ``level`` and parents.

    Levels: ``province``, ``city``, ``county``, ``community``, ``unit``.  Each
    entry carries ``city`` / ``county`` codes of its parents where they apply.
    """
    doc = load_regions()
    idx: dict[str, dict[str, Any]] = {}
    p = doc["province"]
    idx[p["code"]] = {"level": "province", "code": p["code"], "name_zh": p["name_zh"], "name_en": p["name_en"]}
    for city in doc["cities"]:
        idx[city["code"]] = {"level": "city", "code": city["code"], "name_zh": city["name_zh"], "name_en": city["name_en"]}
        for county in city["counties"]:
            idx[county["code"]] = {
                "level": "county", "code": county["code"], "name_zh": county["name_zh"],
                "name_en": county["name_en"], "city": city["code"],
            }
            for comm in county["communities"]:
                idx[comm["code"]] = {
                    "level": "community", "code": comm["code"], "name_zh": comm["name_zh"],
                    "name_en": comm["name_en"], "county": county["code"], "city": city["code"],
                }
            for unit in county["units"]:
                idx[unit["code"]] = {
                    "level": "unit", "code": unit["code"], "name_zh": unit["name"],
                    "name_en": unit.get("name_en", unit["name"]), "county": county["code"],
                    "city": city["code"],
                }
    return idx


@lru_cache(maxsize=1)
def _countries() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    a2: dict[str, str] = {}
    a3: dict[str, str] = {}
    names: dict[str, str] = {}
    with open(DATA_DIR / "countries.csv", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            a2[row["alpha_2"]] = row["alpha_3"]
            a3[row["alpha_3"]] = row["alpha_3"]
            names[row["alpha_3"]] = row["name"]
    return a2, a3, names


def today_shanghai() -> date:
    """The current calendar date in Asia/Shanghai, from the injected clock (simulated time works)."""
    from cases.clock import now

    return now().astimezone(SHANGHAI).date()


def _require_str(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(msg("{what} must be text", what=what))
    return value


# --------------------------------------------------------------------------- #
# resident identity number (GB 11643-1999)
# --------------------------------------------------------------------------- #

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"
_ID_SHAPE = re.compile(r"^\d{17}[\dX]$")
_WS = re.compile(r"\s+")


def resident_id_check_char(body17: str) -> str:
    """ISO 7064 MOD 11-2 check character for the first 17 digits."""
    if len(body17) != 17 or not body17.isdigit() or not body17.isascii():
        raise ValueError(msg("the first 17 characters of a resident ID number must be digits"))
    total = sum(int(d) * w for d, w in zip(body17, ID_WEIGHTS))
    return ID_CHECK_CHARS[total % 11]


def _id_shape(number: object, what: str = "resident ID number") -> str:
    n = _WS.sub("", _require_str(number, what)).upper()
    if len(n) == 15 and n.isdigit():
        raise ValueError(
            msg("15-digit (first-generation) ID numbers are no longer accepted; enter the 18-character number printed on your current ID card")
        )
    if len(n) != 18:
        raise ValueError(msg("a {what} has 18 characters, got {length}", what=what, length=len(n)))
    if not _ID_SHAPE.match(n) or not n.isascii():
        raise ValueError(msg("a {what} is 17 digits followed by a digit or X", what=what))
    expected = resident_id_check_char(n[:17])
    if n[17] != expected:
        raise ValueError(msg("check character should be {expected}, got {got}", expected=expected, got=n[17]))
    return n


def _birth_date(n: str, today: date) -> date:
    raw = n[6:14]
    try:
        born = date(int(raw[:4]), int(raw[4:6]), int(raw[6:8]))
    except ValueError:
        raise ValueError(msg("birth date {raw} in the ID number is not a real date", raw=raw)) from None
    if born < date(1900, 1, 1):
        raise ValueError(msg("birth date {born} in the ID number is before 1900", born=born.isoformat()))
    if born > today:
        raise ValueError(msg("birth date {born} in the ID number is in the future", born=born.isoformat()))
    return born


def check_resident_id(number: str, *, today: date) -> str:
    """Validate a PRC resident identity number; return it normalised.

    Normalisation: whitespace removed, ``x`` -> ``X``.  Checks, in order:
    length and shape, the MOD 11-2 check character, a real birth date between
    1900-01-01 and ``today``, and a known address prefix (province-level
    2 digits; for Shandong, 37, the 4-digit prefecture, current or historical).
    """
    n = _id_shape(number)
    _birth_date(n, today)
    prov = n[:2]
    if prov in {"81", "82", "83"}:
        raise ValueError(
            msg("address code {code} is a Hong Kong/Macao/Taiwan residence permit; choose the document type hmt_permit", code=n[:6])
        )
    if prov not in province_codes():
        raise ValueError(msg("address code {code} does not start with a known province code ({prefix})", code=n[:6], prefix=prov))
    if prov == "37" and n[:4] not in shandong_prefixes():
        raise ValueError(msg("address code {code} is not a known Shandong prefecture ({prefix})", code=n[:6], prefix=n[:4]))
    return n


def resident_id_birth_date(number: str) -> date:
    """Birth date encoded in an already validated resident ID number."""
    n = _WS.sub("", number).upper()
    return date(int(n[6:10]), int(n[10:12]), int(n[12:14]))


# --------------------------------------------------------------------------- #
# passports (ICAO 9303)
# --------------------------------------------------------------------------- #

_PASSPORT = re.compile(r"^[A-Z0-9]{5,9}$")
_MRZ_WEIGHTS = (7, 3, 1)


def mrz_check_digit(s: str) -> int:
    """ICAO 9303 check digit: 0-9 = 0-9, A-Z = 10-35, '<' = 0; weights 7-3-1, mod 10.

    >>> mrz_check_digit("L898902C3")
    6
    """
    total = 0
    for i, ch in enumerate(_require_str(s, "MRZ field")):
        if ch.isascii() and ch.isdigit():
            v = int(ch)
        elif "A" <= ch <= "Z":
            v = ord(ch) - ord("A") + 10
        elif ch == "<":
            v = 0
        else:
            raise ValueError(msg("character {char} is not allowed in a machine-readable zone", char=repr(ch)))
        total += v * _MRZ_WEIGHTS[i % 3]
    return total % 10


def check_passport(number: str) -> str:
    """Passport (ICAO 9303) document number: 5-9 letters or digits, returned uppercase.

    Spaces are removed; '<' fillers, dashes and other characters are rejected.
    """
    n = _WS.sub("", _require_str(number, "passport number")).upper()
    if not n:
        raise ValueError(msg("passport number is empty"))
    if not n.isascii() or not n.isalnum():
        raise ValueError(msg("a passport number contains only letters A-Z and digits"))
    if not _PASSPORT.match(n):
        raise ValueError(msg("a passport number has 5 to 9 letters or digits, got {length}", length=len(n)))
    return n


# --------------------------------------------------------------------------- #
# Hong Kong / Macao / Taiwan documents
# --------------------------------------------------------------------------- #

_HM_PERMIT = re.compile(r"^[HM](\d{8}|\d{10})$")
_TW_CARD = re.compile(r"^\d{8}$")
_TW_BOOKLET = re.compile(r"^(\d{10})(?:\(?([A-Z])\)?)?$")


def check_hmt_permit(number: str) -> str:
    """Hong Kong / Macao / Taiwan resident document; see the module docstring."""
    n = _WS.sub("", _require_str(number, "permit number")).upper()
    n = n.replace("（", "(").replace("）", ")")
    if not n:
        raise ValueError(msg("permit number is empty"))
    if _HM_PERMIT.match(n) or _TW_CARD.match(n):
        return n
    m = _TW_BOOKLET.match(n)
    if m:
        return m.group(1) + (f"({m.group(2)})" if m.group(2) else "")
    if len(n) == 18 and n[:6] in {"810000", "820000", "830000"}:
        return _id_shape(n, "residence permit number")
    if n[:1] in {"H", "M"}:
        raise ValueError(msg("a Hong Kong/Macao permit number is H or M followed by 8 or 10 digits"))
    raise ValueError(
        msg("not a Hong Kong/Macao/Taiwan permit number: expected H or M + 8 or 10 digits (Hong Kong/Macao), 8 digits (Taiwan), or an 18-character residence permit number starting 810000/820000/830000")
    )


def check_id_number(id_type: str, number: str, *, today: date) -> str:
    """Dispatch on the document type (``resident_id``, ``passport``, ``hmt_permit``)."""
    t = getattr(id_type, "value", id_type)
    if t == "resident_id":
        return check_resident_id(number, today=today)
    if t == "passport":
        return check_passport(number)
    if t == "hmt_permit":
        return check_hmt_permit(number)
    raise ValueError(msg("unknown document type {value}; use resident_id, passport or hmt_permit", value=repr(t)))


# --------------------------------------------------------------------------- #
# phone, temperature, country, places
# --------------------------------------------------------------------------- #

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_PHONE_STRIP = re.compile(r"[\s\-().]")


def check_mobile(number: str) -> str:
    """Mainland mobile number -> 11 digits.

    Accepts spaces, dashes, dots and parentheses, and a ``+86`` / ``0086`` /
    ``86`` country prefix; the result must match ``1[3-9]\\d{9}``.
    """
    n = _PHONE_STRIP.sub("", _require_str(number, "mobile number"))
    if n.startswith("+86"):
        n = n[3:]
    elif n.startswith("0086"):
        n = n[4:]
    elif n.startswith("86") and len(n) == 13:
        n = n[2:]
    if not n.isascii() or not n.isdigit():
        raise ValueError(msg("a mobile number contains only digits (and an optional +86)"))
    if len(n) != 11:
        raise ValueError(msg("a mainland mobile number has 11 digits, got {length}", length=len(n)))
    if not _MOBILE.match(n):
        raise ValueError(msg("a mainland mobile number starts with 13-19"))
    return n


TEMPERATURE_MIN = 34.0
TEMPERATURE_MAX = 43.0


def check_temperature(t: float) -> float:
    """Body temperature in °C, 34.0-43.0 inclusive (values outside are typos)."""
    if isinstance(t, bool) or not isinstance(t, (int, float)):
        raise ValueError(msg("temperature must be a number in °C"))
    v = float(t)
    if math.isnan(v) or math.isinf(v):
        raise ValueError(msg("temperature must be a finite number in °C"))
    if not TEMPERATURE_MIN <= v <= TEMPERATURE_MAX:
        raise ValueError(
            msg("temperature {value} °C is outside {low}-{high} °C; measure again (°C, not °F)", value=f"{v:g}", low=f"{TEMPERATURE_MIN:g}", high=f"{TEMPERATURE_MAX:g}")
        )
    return v


def check_country(code: str) -> str:
    """ISO 3166-1 alpha-2 or alpha-3 (any case) -> alpha-3, e.g. ``cn`` -> ``CHN``."""
    c = _require_str(code, "country code").strip().upper()
    a2, a3, _ = _countries()
    if len(c) == 2 and c in a2:
        return a2[c]
    if len(c) == 3 and c in a3:
        return c
    raise ValueError(msg("unknown country code {value}; use ISO 3166-1 alpha-2 or alpha-3, e.g. CN or CHN", value=repr(code)))


def country_name(alpha3: str) -> str:
    """English ISO 3166 name of an alpha-3 code."""
    return _countries()[2][check_country(alpha3)]


_REGION6 = re.compile(r"^\d{6}$")


def check_region_code(code: str) -> str:
    """A 6-digit GB/T 2260 region code of mainland China.

    ``xx0000`` = a whole province, ``xxxx00`` = a whole city.  The province must
    be known; inside Shandong the city must be a current prefecture.  Counties
    are not checked against a full list (the project ships only a subset).
    """
    c = _require_str(code, "region code").strip()
    if not _REGION6.match(c) or not c.isascii():
        raise ValueError(msg("region code {value} must be 6 digits (GB/T 2260)", value=repr(code)))
    if c[:2] not in province_codes():
        raise ValueError(msg("region code {code} does not start with a known province code ({prefix})", code=c, prefix=c[:2]))
    if c[:2] == "37" and c[2:4] != "00" and c[:4] not in _shandong_current():
        raise ValueError(msg("region code {code} is not in a current Shandong city ({prefix})", code=c, prefix=c[:4]))
    if c[2:4] == "00" and c[4:] != "00":
        raise ValueError(msg("region code {code} is malformed (county digits without a city)", code=c))
    return c


def check_place(code: str) -> str:
    """Place of a stay: a 6-digit GB/T 2260 code (mainland) or ISO 3166 country (abroad).

    Countries are normalised to alpha-3.  China itself (CN/CHN) is refused: a
    stay in the mainland must name its region code.  HKG, MAC and TWN are
    accepted as country codes.
    """
    c = _require_str(code, "place").strip().upper()
    if c.isdigit():
        return check_region_code(c)
    try:
        alpha3 = check_country(c)
    except ValueError:
        raise ValueError(
            msg("place {value} is neither a 6-digit GB/T 2260 region code nor an ISO 3166 country code", value=repr(code))
        ) from None
    if alpha3 == "CHN":
        raise ValueError(msg("for a stay in mainland China give the 6-digit region code (GB/T 2260), not CN/CHN"))
    return alpha3


_COMMUNITY = re.compile(r"^\d{12}$")
_UNIT = re.compile(r"^U\d{9}$")


def check_community_code(code: str) -> str:
    """12-digit community (village) code inside a current Shandong city.

    Whether the community exists is for the caller (database / ``region_index``).
    """
    c = _require_str(code, "community code").strip()
    if not _COMMUNITY.match(c) or not c.isascii():
        raise ValueError(msg("a community code has 12 digits: county (6) + street (3) + community (3)"))
    if c[:4] not in _shandong_current():
        raise ValueError(msg("community code {code} is not in a Shandong city", code=c))
    return c


def check_unit_code(code: str) -> str:
    """Unit (employer) code ``U`` + 6-digit Shandong county + 3 digits."""
    c = _require_str(code, "unit code").strip().upper()
    if not _UNIT.match(c) or not c.isascii():
        raise ValueError(msg("a unit code is U followed by 9 digits (county 6 + 3)"))
    if c[1:5] not in _shandong_current():
        raise ValueError(msg("unit code {code} is not in a Shandong city", code=c))
    return c


# --------------------------------------------------------------------------- #
# free text and names
# --------------------------------------------------------------------------- #

# Bidirectional embeddings, overrides and isolates reorder what a reader sees ("Trojan Source");
# no field of a declaration needs them.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def check_text(value: str, what: str = "text", *, multiline: bool = False) -> str:
    """Free text: no NUL or other control characters (tab and line breaks only in multi-line
    text), no unpaired surrogates (they cannot be stored as UTF-8), no bidirectional overrides."""
    v = _require_str(value, what)
    allowed = "\t\n\r" if multiline else ""
    for ch in v:
        if "\ud800" <= ch <= "\udfff":
            raise ValueError(msg("{what} contains an unpaired surrogate (not valid Unicode text)", what=what))
        if ch in _BIDI_CONTROLS:
            raise ValueError(msg("{what} contains a bidirectional override character (U+{codepoint})", what=what, codepoint=f"{ord(ch):04X}"))
        if (ch < " " or "\x7f" <= ch <= "\x9f") and ch not in allowed:
            if ch == "\x00":
                raise ValueError(msg("{what} contains a control character (U+{codepoint}), a NUL byte", what=what, codepoint="0000"))
            raise ValueError(msg("{what} contains a control character (U+{codepoint})", what=what, codepoint=f"{ord(ch):04X}"))
    return v


def check_name(value: str, what: str = "name") -> str:
    """A person's name: letters (any script), combining marks, spaces and punctuation such as
    the middle dot of transcribed names (阿卜杜拉·买买提) or O'Brien-Smith. Invisible characters
    (zero-width spaces and joiners, direction marks), symbols and emoji are refused, and at least
    one letter is required."""
    v = check_text(value, what)
    has_letter = False
    for ch in v:
        cat = unicodedata.category(ch)
        if cat[0] == "L":
            has_letter = True
        elif cat[0] in "CS":  # C: control, format (zero-width, direction marks), unassigned; S: symbols, emoji
            raise ValueError(msg("{what} contains the character U+{codepoint}, which is not part of a name (letters, spaces, · . ' - only)", what=what, codepoint=f"{ord(ch):04X}"))
    if not has_letter:
        raise ValueError(msg("{what} must contain at least one letter", what=what))
    return v


# --------------------------------------------------------------------------- #
# masking and keyed hashes
# --------------------------------------------------------------------------- #


def mask_id(number: str) -> str:
    """Mask a document number for display: ``3701**********123X``.

    18 characters or more: first 4 and last 4 kept.  Shorter numbers (passports,
    permits) keep only first 2 and last 2; 4 characters or fewer are fully masked.
    """
    n = _WS.sub("", str(number or "")).upper()
    if len(n) >= 12:
        return n[:4] + "*" * (len(n) - 8) + n[-4:]
    if len(n) > 4:
        return n[:2] + "*" * (len(n) - 4) + n[-2:]
    return "*" * len(n)


def mask_phone(number: str) -> str:
    """Mask a mobile number: ``138****1234``; other shapes keep only the last 2."""
    try:
        n = check_mobile(number)
    except ValueError:
        n = _PHONE_STRIP.sub("", str(number or ""))
        return "*" * max(len(n) - 2, 0) + n[-2:] if len(n) > 2 else "*" * len(n)
    return n[:3] + "****" + n[-4:]


def keyed_hash(value: str, *, key: bytes) -> str:
    """HMAC-SHA256 of the normalised value, base64url without padding (43 chars).

    Normalisation: all whitespace removed, uppercased -- so ``3701...123x`` and
    ``3701 ... 123X`` hash alike.  Phones must go through ``check_mobile`` first
    (``hash_phone`` does that).  ``key`` is a secret (32 random bytes advised);
    the store keeps only these hashes, never raw numbers.
    """
    if not isinstance(key, (bytes, bytearray)) or not key:
        raise ValueError("keyed_hash needs a non-empty secret key (bytes)")
    v = _WS.sub("", _require_str(value, "value")).upper()
    if not v:
        raise ValueError("cannot hash an empty value")
    digest = hmac.new(bytes(key), v.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def hash_id_number(number: str, *, key: bytes) -> str:
    """Keyed hash of an (already validated) document number."""
    return keyed_hash(number, key=key)


def hash_phone(number: str, *, key: bytes) -> str:
    """Keyed hash of a mobile number after ``check_mobile`` normalisation."""
    return keyed_hash(check_mobile(number), key=key)


# What the checks above name in their messages ("{what} must be text"): in the catalogue so the
# pages can say it in the reader's language (ui/i18n.py translates the `what` of a message).
CHECKED_THINGS = (
    msg("resident ID number"), msg("residence permit number"), msg("passport number"), msg("permit number"), msg("MRZ field"),
    msg("mobile number"), msg("country code"), msg("region code"), msg("place"), msg("community code"), msg("unit code"),
    msg("text"), msg("name"), msg("address"), msg("arrival port"), msg("value"),
)
