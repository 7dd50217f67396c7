"""Paper card = e-code (R3): the QR of the e-code, the HTML card and the PDF card all
carry the same text, decoded by an independent QR reader, and verify with the same result."""

from __future__ import annotations

import base64
import io
import re
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import PIL.Image
import PIL.ImageDraw
import pytest
import zxingcpp
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from cases.codes.card_number import is_valid, make_card_number
from cases.codes.claims import CARD_NAME, CARD_NAME_ZH, build_claims
from cases.codes.jws import sign
from cases.codes.keys import KeyStore
from cases.codes.pdf import card_pdf
from cases.codes.qr import qr_png, qr_svg
from cases.codes.qrtext import to_qr_text
from cases.codes.verify import decide

TEMPLATES = Path(__file__).resolve().parents[2] / "cases" / "codes" / "templates"
ISSUED = datetime(2020, 3, 10, 1, 0, tzinfo=timezone.utc)
VALIDITY = timedelta(days=14)
HASH_KEY = b"test-hash-key-0123456789abcdef"


@pytest.fixture(scope="module")
def issued(tmp_path_factory):
    store = KeyStore(tmp_path_factory.mktemp("keys"))
    key = store.ensure_active(now=ISSUED)
    claims = build_claims(
        pass_id="2d9c2a4e-5b1f-4c1e-8a77-3f1e0b7c9d01",
        colour="green",
        issued_at=ISSUED,
        valid_until=ISSUED + VALIDITY,
        region="370102",
        name="欧阳小明",
        id_number="37010219800101123X",
        hash_key=HASH_KEY,
    )
    text = to_qr_text(sign(claims, key))
    keys = store.public_keys(now=ISSUED + timedelta(days=1), validity=VALIDITY)
    return text, keys, claims


def _read_qr(image: PIL.Image.Image) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(image)]


def _rasterise_svg(svg: str, scale: int = 6) -> PIL.Image.Image:
    """Draw our QR SVG (one path of unit-high rectangles) to a bitmap."""
    size = int(re.search(r'viewBox="0 0 (\d+) \1"', svg).group(1))
    image = PIL.Image.new("L", (size * scale, size * scale), 255)
    draw = PIL.ImageDraw.Draw(image)
    d = re.search(r'<path fill="#000" d="([^"]*)"', svg).group(1)
    runs = re.findall(r"M(\d+) (\d+)h(\d+)v1h-\3z", d)
    assert "".join(f"M{x} {y}h{w}v1h-{w}z" for x, y, w in runs) == d
    for x, y, w in runs:
        x, y, w = int(x), int(y), int(w)
        draw.rectangle([x * scale, y * scale, (x + w) * scale - 1, (y + 1) * scale - 1], fill=0)
    return image


def _pdf_images(pdf: bytes) -> list[PIL.Image.Image]:
    """Image XObjects of a reportlab PDF (ASCII85 + Flate, DeviceRGB or DeviceGray)."""
    images = []
    for m in re.finditer(rb"<<((?:(?!<<|>>).)*?/Subtype /Image(?:(?!>>).)*)>>\s*stream\r?\n(.*?)endstream", pdf, re.S):
        d, data = m.group(1), m.group(2).strip()
        width = int(re.search(rb"/Width (\d+)", d).group(1))
        height = int(re.search(rb"/Height (\d+)", d).group(1))
        if b"/ASCII85Decode" in d:
            data = base64.a85decode(data[:-2] if data.endswith(b"~>") else data)
        if b"/FlateDecode" in d:
            data = zlib.decompress(data)
        mode = "RGB" if b"/DeviceRGB" in d else "L"
        images.append(PIL.Image.frombytes(mode, (width, height), data))
    return images


def test_r3_ecode_png_decodes_to_the_exact_text_and_passes(issued):
    text, keys, _ = issued
    png = qr_png(text)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert _read_qr(PIL.Image.open(io.BytesIO(png))) == [text]
    d = decide(token=text, keys=keys, revoked=set(), now=ISSUED + timedelta(days=1), temperature=36.4)
    assert d.result == "PASS" and d.masked_name == "欧**明"


def test_r3_paper_card_qr_verifies_like_ecode(issued):
    """E-code PNG, HTML card SVG and PDF card image: same text, same decision."""
    text, keys, claims = issued
    ecode = _read_qr(PIL.Image.open(io.BytesIO(qr_png(text))))
    html_card = _read_qr(_rasterise_svg(qr_svg(text)))
    pdf = card_pdf(
        qr_png=qr_png(text),
        card_number=make_card_number(claims["pid"]),
        masked_name=claims["nam"],
        colour=claims["col"],
        valid_until="2020-03-24 09:00",
        region_name="济南市历下区 Lixia, Jinan",
    )
    (pdf_image,) = _pdf_images(pdf)
    pdf_card = _read_qr(pdf_image)
    assert ecode == html_card == pdf_card == [text]
    decisions = {
        repr(decide(token=t[0], keys=keys, revoked=set(), now=now, temperature=temp))
        for t in (ecode, html_card, pdf_card)
        for now, temp in [(ISSUED + timedelta(days=2), 36.5)]
    }
    assert len(decisions) == 1 and "PASS" in decisions.pop()
    # And the same DENY for the same revoked pass, whichever copy is scanned.
    denies = {
        tuple(decide(token=t[0], keys=keys, revoked={claims["pid"]}, now=ISSUED + VALIDITY, temperature=38.0).reasons)
        for t in (ecode, html_card, pdf_card)
    }
    assert denies == {("revoked", "expired", "fever")}


def test_r3_qr_png_options_and_quiet_zone(issued):
    text, _, _ = issued
    small = PIL.Image.open(io.BytesIO(qr_png(text, box_size=4, border=4)))
    big = PIL.Image.open(io.BytesIO(qr_png(text, box_size=8, border=6)))
    assert big.size[0] > 2 * small.size[0] - 1
    assert _read_qr(small) == [text] and _read_qr(big) == [text]
    with pytest.raises(ValueError):
        qr_png(text, border=1)


def test_r3_qr_svg_is_inline_and_self_contained(issued):
    text, _, _ = issued
    svg = qr_svg(text)
    assert svg.startswith("<svg ") and svg.endswith("</svg>")
    assert "<?xml" not in svg and "href" not in svg and "http://" not in svg.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )
    assert len(svg) < 40_000


def _render(**over) -> str:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
    )
    context = dict(
        card_name_en=CARD_NAME,
        card_name_zh=CARD_NAME_ZH,
        colour="green",
        masked_name="欧**明",
        card_number="SD-ABCD-EFGH-JKMN-P",
        valid_from="2020-03-10 09:00",
        valid_until="2020-03-24 09:00",
        qr_svg="",
        region_name="济南市历下区",
    )
    context.update(over)
    return env.get_template("card.html").render(**context)


def test_r3_html_card_carries_the_same_qr_and_card_number(issued):
    text, _, claims = issued
    svg = qr_svg(text)
    number = make_card_number(claims["pid"])
    html = _render(qr_svg=svg, card_number=number, masked_name=claims["nam"])
    assert svg in html  # rendered verbatim (|safe), not escaped
    assert number in html and is_valid(number)
    assert "欧**明" in html
    # The SVG inside the page decodes to the e-code text.
    embedded = re.search(r"<svg .*?</svg>", html, re.S).group(0)
    assert _read_qr(_rasterise_svg(embedded)) == [text]


def test_r1_html_card_shows_both_card_names():
    html = _render()
    assert "Shandong Health Pass Card" in html and "山东省健康通行卡" in html
    assert "Returned Overseas Students" not in html


def test_r3_html_card_is_a6_print_and_downloads_nothing():
    html = _render()
    assert "@page { size: A6; margin: 6mm; }" in html
    lowered = html.lower()
    for needle in ("<script", "<link", "@import", "url(", "src=", "http://", "https://", "@font-face"):
        assert needle not in lowered, needle


@pytest.mark.parametrize(("colour", "label"), [("green", "绿码 GREEN"), ("yellow", "黄码 YELLOW"), ("red", "红码 RED")])
def test_r3_html_card_states_the_colour_in_words(colour, label):
    html = _render(colour=colour)
    assert label in html and f'data-colour="{colour}"' in html


def test_r3_html_card_escapes_text_fields():
    html = _render(masked_name="<b>x</b>", region_name='"><script>', colour='"><script>')
    assert "<b>x</b>" not in html and "<script>" not in html
    assert "未知 UNKNOWN" in html


def test_r3_card_pdf_is_a6_with_the_qr_image(issued):
    text, _, claims = issued
    pdf = card_pdf(
        qr_png=qr_png(text),
        card_number=make_card_number(claims["pid"]),
        masked_name=claims["nam"],
        colour="yellow",
        valid_until="2020-03-24",
        region_name="青岛市",
        valid_from="2020-03-10",
    )
    assert pdf.startswith(b"%PDF-")
    assert b"/Subtype /Image" in pdf
    # A6 = 105 x 148 mm = 297.6 x 419.5 pt
    box = re.search(rb"/MediaBox \[ *0 0 ([\d.]+) ([\d.]+) *\]", pdf)
    assert (round(float(box.group(1))), round(float(box.group(2)))) == (298, 420)
    assert b"STSong-Light" in pdf  # built-in CID font, nothing embedded or downloaded
    assert b"/FontFile" not in pdf
    # Deterministic output.
    again = card_pdf(
        qr_png=qr_png(text),
        card_number=make_card_number(claims["pid"]),
        masked_name=claims["nam"],
        colour="yellow",
        valid_until="2020-03-24",
        region_name="青岛市",
        valid_from="2020-03-10",
    )
    assert again == pdf
    with pytest.raises(ValueError):
        card_pdf(qr_png=qr_png(text), card_number="x", masked_name="x", colour="blue", valid_until="", region_name="")
