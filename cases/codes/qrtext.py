"""The text inside a pass QR code: ``SDHP1:`` + compact JWS.

The prefix (like ``HC1:`` of the EU DCC) tells a scanner app what it is reading and
carries a format version. Readers also accept the bare JWS, so any standard JOSE
library can verify the text after removing the prefix. The e-code and the printed
card carry exactly the same text (R3).
"""

from __future__ import annotations

__all__ = ["QR_PREFIX", "to_qr_text", "from_qr_text"]

QR_PREFIX = "SDHP1:"


def to_qr_text(token: str) -> str:
    """QR text of a compact JWS."""
    return QR_PREFIX + token


def from_qr_text(text: str) -> str:
    """The compact JWS in scanned text: strips surrounding whitespace and the prefix.

    The prefix is matched case-insensitively (a QR in alphanumeric mode or a
    keyboard-wedge scanner may change its case; the JWS itself is case-sensitive).
    """
    text = text.strip()
    if text[: len(QR_PREFIX)].upper() == QR_PREFIX:
        return text[len(QR_PREFIX) :]
    return text
