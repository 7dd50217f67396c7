"""The API application: routers per actor and the public directory.

It knows nothing of the pages: ``web/main.py`` composes the served application, passing the UI
in through ``create_app``'s arguments, so ``api/`` and ``ui/`` never import each other."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.openapi.utils import get_openapi

from api import errors, limits
from api.health import router as health_router
from api.routers import applications, auth, issuers


@asynccontextmanager
async def lifespan(app: FastAPI):
    # This process's revocation listener (PostgreSQL LISTEN or Redis SUBSCRIBE; SQLite needs none).
    from cases import revocation_feed
    from cases.db import get_engine

    revocation_feed.start(get_engine())
    try:
        yield
    finally:
        revocation_feed.stop()


def create_app(
    *,
    faces: Iterable[Callable[[FastAPI], None]] = (),
    error_page: Callable[[Request, int], Response] | None = None,
) -> FastAPI:
    """The API, plus each of ``faces`` (a function adding routes to the app, such as the UI's
    pages) and ``error_page`` rendering a browser's 404 and 500 (JSON when it is None)."""
    app = FastAPI(
        lifespan=lifespan,
        title="healthpass — Shandong Health Pass Card / 山东省健康通行卡",
        version="0.1.0",
        description="Case management for health pass cards (codes): declaration, big-data comparison, "
        "community/unit audit with SLA timers, signed passes and checkpoint verification.",
        docs_url=None,  # served by _docs from vendored files: FastAPI's default loads them from a CDN
        redoc_url=None,
    )
    errors.install(app)
    limits.install(app)
    app.include_router(health_router)
    app.include_router(auth.router)
    app.include_router(applications.router)
    app.include_router(issuers.router)
    for name in ("passes", "supervisors", "public", "reports", "observation", "units", "users", "reporting", "staff", "trends", "complaints", "province", "recovery",
                 "admin"):
        try:
            module = __import__(f"api.routers.{name}", fromlist=["router"])
        except ModuleNotFoundError:
            continue
        app.include_router(module.router)
    for add_face in faces:
        add_face(app)
    _docs(app)
    errors.install_pages(app, error_page)
    _openapi_examples(app)
    return app


# swagger-ui-dist, vendored under ui/static and served by the UI's /static mount (ui/static/vendor/README.md)
SWAGGER_UI = "/static/vendor/swagger-ui"


def _docs(app: FastAPI) -> None:
    """Swagger UI from this server's own files: /docs works without internet."""
    from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
    from fastapi.responses import HTMLResponse

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title=f"{app.title} — API",
            oauth2_redirect_url="/docs/oauth2-redirect",
            swagger_js_url=f"{SWAGGER_UI}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_UI}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER_UI}/favicon-32x32.png",
            # The default validator badge is an image from validator.swagger.io.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()


def _openapi_examples(app: FastAPI) -> None:
    """The application examples depend on today's date (the 14-day window), so they are
    filled in each time the schema is served, from the injected clock."""

    def openapi() -> dict:
        from cases.clock import SHANGHAI, now
        from cases.declaration_schema import make_examples

        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        body = schema["paths"]["/api/v1/applications"]["post"]["requestBody"]["content"]["application/json"]
        body["examples"] = make_examples(now().astimezone(SHANGHAI).date())
        _links(schema)
        errors.document(schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


# OpenAPI links: what a client (and schemathesis' stateful run) can do with a new case.
CASE_LINKS = {
    "ReadCase": "read_api_v1_applications__case_id__get",
    "ReadObservation": "read_observation_api_v1_applications__case_id__observation_get",
    "ReportToday": "submit_report_api_v1_applications__case_id__reports_post",
    "AmendDeclaration": "amend_api_v1_applications__case_id__declaration_put",
}


def _links(schema: dict) -> None:
    responses = schema["paths"]["/api/v1/applications"]["post"]["responses"]
    links = {
        name: {"operationId": op, "parameters": {"path.case_id": "$response.body#/id", "query.access_token": "$response.body#/access_token"}}
        for name, op in CASE_LINKS.items()
    }
    for code in ("200", "201"):
        if code in responses:
            responses[code]["links"] = links
