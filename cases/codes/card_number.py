"""Human-readable card number, typed in when a printed QR is damaged (R3).

Format: ``SD-XXXX-XXXX-XXXX-C``

- ``SD``: fixed prefix (Shandong).
- 12 data characters in Crockford base-32 (``0-9 A-Z`` without ``I L O U``): the first
  60 bits of ``SHA-256("SDHP-card-number-v1\\0" + pass_id)``. Deterministic, so the
  store computes it once and looks the pass up by it. 60 bits make a collision among
  the ~13 million cards Shandong issued in 2020 unlikely (p ≈ 7e-5) but not impossible:
  the store keeps a unique index on the card number and refuses a clash.
- ``C``: check character, also Crockford base-32, computed in GF(32) (polynomial
  ``x^5 + x^2 + 1``, primitive element α = 2): ``C = Σ α^(i+1) · d_i`` over the data
  characters ``d_0..d_11`` (addition is XOR). Equivalently
  ``Σ α^(i+1) d_i + α^0 · C = 0``. All 13 weights are distinct and non-zero, so
  **every** single-character substitution and **every** transposition of two
  different characters (adjacent or not, including with the check character) changes
  the sum: detected with certainty. (Unlike ISO 7064 MOD 37-2 the check character
  needs no extra symbol such as ``*``; unlike MOD 37-36 the alphabet is Crockford's,
  where O/0 and I/L/1 cannot be confused.)

Input is forgiving (:func:`normalise`): lower case, spaces, missing or extra dashes,
and Crockford's confusables ``O → 0``, ``I, L → 1``. ``U`` is not a Crockford symbol.
Full-width characters from a Chinese input method (``ＳＤ－１２…``, the ideographic
space) are folded to ASCII first (Unicode NFKC). :func:`check` also verifies the check
character and says "check the number" when one character is wrong.
"""

from __future__ import annotations

import hashlib
import unicodedata

from cases.messages import message_of, msg

from .errors import InvalidCardNumber

__all__ = ["ALPHABET", "CheckCharacterMismatch", "make_card_number", "normalise", "check", "is_valid", "check_char"]


class CheckCharacterMismatch(InvalidCardNumber):
    """The number reads, but its check character does not match: a typing mistake."""


ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PREFIX = "SD"
DATA_LEN = 12
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})
# Separators people type, after NFKC (which already maps the full-width hyphen and the
# ideographic space to ASCII): dashes and hyphens of every kind, spaces, dots.
_IGNORED = str.maketrans("", "", " \t\r\n-‐‑‒–—―−_.·")
_POLY = 0b100101  # x^5 + x^2 + 1, primitive over GF(2)


def _gf_mul(a: int, b: int) -> int:
    product = 0
    while b:
        if b & 1:
            product ^= a
        b >>= 1
        a <<= 1
        if a & 0b100000:
            a ^= _POLY
    return product


def _weights() -> tuple[int, ...]:
    out, w = [], 1
    for _ in range(DATA_LEN):
        w = _gf_mul(w, 2)
        out.append(w)  # α^1 .. α^12
    return tuple(out)


_WEIGHTS = _weights()
# Precomputed products weight × value per position: 12 × 32 small ints.
_TABLE = tuple(tuple(_gf_mul(w, v) for v in range(32)) for w in _WEIGHTS)


def check_char(data: str) -> str:
    """Check character of 12 Crockford data characters."""
    if len(data) != DATA_LEN:
        raise InvalidCardNumber(f"expected {DATA_LEN} data characters")
    total = 0
    for row, ch in zip(_TABLE, data):
        try:
            total ^= row[_VALUE[ch]]
        except KeyError:
            raise InvalidCardNumber(f"{ch!r} is not a Crockford base-32 character") from None
    return ALPHABET[total]


def _format(body: str) -> str:
    return f"{PREFIX}-{body[0:4]}-{body[4:8]}-{body[8:12]}-{body[12]}"


def make_card_number(pass_id: str) -> str:
    """``SD-XXXX-XXXX-XXXX-C`` for a pass id (deterministic)."""
    if not isinstance(pass_id, str) or not pass_id:
        raise ValueError("pass_id is empty")
    digest = hashlib.sha256(b"SDHP-card-number-v1\0" + pass_id.encode("utf-8")).digest()
    bits = int.from_bytes(digest[:8], "big") >> 4  # first 60 bits
    data = "".join(ALPHABET[(bits >> (5 * (DATA_LEN - 1 - i))) & 31] for i in range(DATA_LEN))
    return _format(data + check_char(data))


def normalise(text: str) -> str:
    """Canonical ``SD-XXXX-XXXX-XXXX-C`` of typed input; raises ``InvalidCardNumber``.

    Checks shape and alphabet only; :func:`is_valid` also checks the check character.
    The ``SD`` prefix may be left out.
    """
    if not isinstance(text, str):
        raise InvalidCardNumber(msg("card number must be text"))
    compact = unicodedata.normalize("NFKC", text).upper().translate(_IGNORED)
    if len(compact) == len(PREFIX) + DATA_LEN + 1 and compact.startswith(PREFIX):
        compact = compact[len(PREFIX) :]
    compact = compact.translate(_CONFUSABLE)
    if len(compact) != DATA_LEN + 1:
        raise InvalidCardNumber(msg("a card number has 13 characters after SD"))
    bad = [ch for ch in compact if ch not in _VALUE]
    if bad:
        raise InvalidCardNumber(msg("{char} is not a card number character", char=repr(bad[0])))
    return _format(compact)


def check(text: str) -> str:
    """Canonical ``SD-XXXX-XXXX-XXXX-C`` of typed input whose check character matches.

    Raises ``InvalidCardNumber`` (shape, alphabet) or ``CheckCharacterMismatch`` (one
    character mistyped, or two swapped): both messages start with "check the number".
    """
    try:
        canonical = normalise(text)
    except CheckCharacterMismatch:
        raise
    except InvalidCardNumber as exc:
        raise InvalidCardNumber(msg("check the number: {reason}", reason=message_of(exc))) from None
    body = canonical[len(PREFIX) :].replace("-", "")
    if check_char(body[:DATA_LEN]) != body[DATA_LEN]:
        raise CheckCharacterMismatch(
            msg("check the number: a character is mistyped or two are swapped (the check character does not match)")
        )
    return canonical


def is_valid(text: str) -> bool:
    """True if ``text`` normalises and its check character matches."""
    try:
        check(text)
    except InvalidCardNumber:
        return False
    return True
