"""QR images of pass text: PNG (e-code, PDF card) and inline SVG (HTML card).

Error correction M (15 %): the text is ~450 characters, so a higher level would push
the version (module count) up and make the printed modules smaller.
"""

from __future__ import annotations

import io

import qrcode
import qrcode.constants

__all__ = ["qr_png", "qr_svg", "qr_matrix"]


def _qr(text: str, *, box_size: int = 8, border: int = 4) -> qrcode.QRCode:
    qr = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box_size, border=border
    )
    qr.add_data(text.encode("utf-8"))
    qr.make(fit=True)
    return qr


def qr_matrix(text: str) -> list[list[bool]]:
    """Module matrix without the quiet zone (True = dark)."""
    return _qr(text, border=0).get_matrix()


def qr_png(text: str, *, box_size: int = 8, border: int = 4) -> bytes:
    """PNG bytes (1-bit) of the QR code of ``text``."""
    if border < 4:
        raise ValueError("a QR code needs a quiet zone of at least 4 modules")
    image = _qr(text, box_size=box_size, border=border).make_image(fill_color="black", back_color="white")
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def qr_svg(text: str, *, border: int = 4, title: str | None = "QR code") -> str:
    """Inline ``<svg>`` element (no XML declaration, no external assets).

    One path; each horizontal run of dark modules is one rectangle, so the markup
    stays small (~15-25 kB for a pass). Scales to its container (viewBox in modules).
    """
    if border < 4:
        raise ValueError("a QR code needs a quiet zone of at least 4 modules")
    matrix = qr_matrix(text)
    size = len(matrix) + 2 * border
    parts: list[str] = []
    for y, row in enumerate(matrix):
        x, n = 0, len(row)
        while x < n:
            if row[x]:
                start = x
                while x < n and row[x]:
                    x += 1
                parts.append(f"M{start + border} {y + border}h{x - start}v1h-{x - start}z")
            else:
                x += 1
    title_el = f"<title>{_escape(title)}</title>" if title else ""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
        f'class="qr" role="img" shape-rendering="crispEdges">{title_el}'
        f'<rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(parts)}"/></svg>'
    )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
