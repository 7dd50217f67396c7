"""Exceptions of the pass-code package (no I/O, no database)."""

from __future__ import annotations


class PassCodeError(Exception):
    """Base class of every error raised by ``cases.codes``."""


class MalformedToken(PassCodeError):
    """The text is not a compact JWS this system issues (shape, encoding, header, alg)."""


class UnknownKey(PassCodeError):
    """The token names a ``kid`` that is not among the trusted keys."""


class BadSignature(PassCodeError):
    """The signature does not verify with the key the token names: forged or tampered."""


class KeyStoreError(PassCodeError):
    """The key directory is missing, inconsistent or holds no active key."""


class InvalidCardNumber(PassCodeError, ValueError):
    """A typed card number cannot be read (wrong length or characters)."""
