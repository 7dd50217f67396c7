"""Composition root: the API with the UI's pages and its HTML error pages.

``api/`` and ``ui/`` are two faces on ``cases/`` that never import each other; this module is the
one place that knows both. Every server runs ``web.main:app``."""
from __future__ import annotations

from fastapi import FastAPI

from api.main import create_app as create_api
from ui.pages import mount as mount_pages
from ui.pages.errors import error_page


def create_app() -> FastAPI:
    return create_api(faces=[mount_pages], error_page=error_page)


app = create_app()
