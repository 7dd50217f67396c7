"""The printable A6 card as HTML (R3): the API's `/passes/{id}/card` and the pages render the
same standalone template, kept here beside the PDF so neither face imports the other."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape


@lru_cache
def _templates() -> Environment:
    return Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html"]))


def card_html(context: dict[str, Any]) -> str:
    return _templates().get_template("card.html").render(**context)
