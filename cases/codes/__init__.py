"""Pass codes: ES256 keys and JWKS, compact JWS, minimal claims, card numbers,
QR images, the printable card, and the checkpoint decision (R1–R4).

Pure: no database, no HTTP. The caller supplies keys, the revocation set and the clock.
Heavy optional parts (``qr``, ``pdf``) are not imported here.
"""

from .card_number import CheckCharacterMismatch
from .card_number import check as check_card_number
from .card_number import is_valid as card_number_is_valid
from .card_number import make_card_number, normalise as normalise_card_number
from .claims import CARD_NAME, CARD_NAME_ZH, COLOURS, build_claims, id_hash, mask_name
from .errors import (
    BadSignature,
    InvalidCardNumber,
    KeyStoreError,
    MalformedToken,
    PassCodeError,
    UnknownKey,
)
from .jws import sign
from .jws import verify as verify_jws  # ``cases.codes.verify`` is the decision module
from .keys import KeyStore, SigningKey, keys_from_jwks
from .qrtext import QR_PREFIX, from_qr_text, to_qr_text
from .verify import Decision, decide

__all__ = [
    "BadSignature",
    "CARD_NAME",
    "CARD_NAME_ZH",
    "CheckCharacterMismatch",
    "COLOURS",
    "Decision",
    "InvalidCardNumber",
    "KeyStore",
    "KeyStoreError",
    "MalformedToken",
    "PassCodeError",
    "QR_PREFIX",
    "SigningKey",
    "UnknownKey",
    "build_claims",
    "card_number_is_valid",
    "check_card_number",
    "decide",
    "from_qr_text",
    "id_hash",
    "keys_from_jwks",
    "make_card_number",
    "mask_name",
    "normalise_card_number",
    "sign",
    "to_qr_text",
    "verify_jws",
]
