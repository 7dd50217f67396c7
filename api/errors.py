"""Domain errors become clear 4xx answers; nothing half-written (the session rolls back)."""
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from cases.errors import DomainError


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse(status_code=exc.status_code, content={"detail": [exc.to_dict()] if exc.status_code == 422 else exc.message})
