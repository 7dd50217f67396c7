"""The printable A6 paper card as PDF (R3), with reportlab.

Chinese text uses reportlab's built-in CID font ``STSong-Light`` (Adobe-GB1): the PDF
references it by name and the viewer supplies the glyphs, so nothing is downloaded or
embedded. The QR image is the PNG of exactly the e-code's text.

Output is deterministic (``invariant=1``: no creation date or random document id), so
the same pass prints to the same bytes.
"""

from __future__ import annotations

import io

from reportlab.lib.pagesizes import A6
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from .claims import CARD_NAME, CARD_NAME_ZH

__all__ = ["card_pdf"]

_CJK_FONT = "STSong-Light"
_LATIN_FONT = "Helvetica"
_LATIN_BOLD = "Helvetica-Bold"
_MARGIN = 6 * mm
# Colour band (RGB 0-1) and the label printed on it: never colour alone.
_COLOURS = {
    "green": ((0.09, 0.55, 0.25), "绿码 GREEN"),
    "yellow": ((0.95, 0.75, 0.10), "黄码 YELLOW"),
    "red": ((0.80, 0.12, 0.12), "红码 RED"),
}
_registered = False


def _register_fonts() -> None:
    global _registered
    if not _registered:
        pdfmetrics.registerFont(UnicodeCIDFont(_CJK_FONT))
        _registered = True


def card_pdf(
    *,
    qr_png: bytes,
    card_number: str,
    masked_name: str,
    colour: str,
    valid_until: str,
    region_name: str,
    valid_from: str | None = None,
    card_name_en: str = CARD_NAME,
    card_name_zh: str = CARD_NAME_ZH,
) -> bytes:
    """One A6 page: names of the card, colour band, QR, card number, holder, validity."""
    if colour not in _COLOURS:
        raise ValueError(f"unknown colour {colour!r}")
    _register_fonts()
    width, height = A6
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A6, invariant=1, pageCompression=1)
    c.setTitle(f"{card_name_en} {card_number}")
    c.setAuthor("Shandong Health Pass")
    c.setSubject(card_name_zh)

    inner = width - 2 * _MARGIN
    y = height - _MARGIN

    # Card names (R1: one card type, shown in both languages).
    y -= 5 * mm
    c.setFont(_CJK_FONT, 13)
    c.drawCentredString(width / 2, y, card_name_zh)
    y -= 4.5 * mm
    c.setFont(_LATIN_BOLD, 9)
    c.drawCentredString(width / 2, y, card_name_en)

    # Colour band with its label in words.
    rgb, label = _COLOURS[colour]
    y -= 9 * mm
    c.setFillColorRGB(*rgb)
    c.rect(_MARGIN, y, inner, 7 * mm, stroke=0, fill=1)
    c.setFillColorRGB(1, 1, 1) if colour != "yellow" else c.setFillColorRGB(0, 0, 0)
    c.setFont(_CJK_FONT, 12)
    c.drawCentredString(width / 2, y + 2.2 * mm, label)
    c.setFillColorRGB(0, 0, 0)

    # QR code: square, as wide as fits above the text block.
    text_block = 27 * mm
    qr_size = min(inner, y - 1.5 * mm - (_MARGIN + text_block))
    y -= qr_size + 1.5 * mm
    c.drawImage(ImageReader(io.BytesIO(qr_png)), (width - qr_size) / 2, y, qr_size, qr_size)

    # Card number (typed in when the QR is damaged), holder, validity, region.
    y -= 5.5 * mm
    c.setFont("Courier-Bold", 12)
    c.drawCentredString(width / 2, y, card_number)
    rows = [
        ("持卡人 Holder", masked_name),
        ("有效期至 Valid until", valid_until if not valid_from else f"{valid_from} ~ {valid_until}"),
        ("签发地 Issued by", region_name),
    ]
    c.setFont(_CJK_FONT, 8.5)
    for caption, value in rows:
        y -= 4.8 * mm
        c.drawString(_MARGIN, y, caption)
        c.drawRightString(width - _MARGIN, y, value)
    y -= 5 * mm
    c.setFont(_CJK_FONT, 6.5)
    c.drawCentredString(
        width / 2, y, "本卡不是身份证件，请与身份证件核对。 Not an ID: check against an ID document."
    )
    c.showPage()
    c.save()
    return buf.getvalue()
