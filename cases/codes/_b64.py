"""Strict base64url without padding (RFC 7515 §2), shared by keys and jws."""

from __future__ import annotations

import base64
import binascii

_TO_STD = str.maketrans("-_", "+/")
_PAD = ("", "", "==", "=")


def b64u_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text: str) -> bytes:
    """Decode base64url text that has already been checked against ``[A-Za-z0-9_-]``.

    Raises ``binascii.Error`` on an impossible length (``len % 4 == 1``).
    """
    rem = len(text) % 4
    if rem == 1:
        raise binascii.Error("impossible base64url length")
    return binascii.a2b_base64(text.translate(_TO_STD) + _PAD[rem])
