"""The baseline server: a bare FastAPI app whose verify endpoint parses the same body
and returns a constant (no store, no signature). Same path, same uvicorn settings, and
like the shipped route an ``async def`` (a sync one would add two threadpool hops)."""
from __future__ import annotations

from fastapi import FastAPI
from pydantic import BaseModel, Field

app = FastAPI()

CONSTANT = {"result": "PASS", "reasons": [], "colour": "green", "valid_until": None, "masked_name": "张*", "card_name": None, "isolation_required": False}


class VerifyIn(BaseModel):
    qr: str | None = Field(default=None, max_length=4096)
    card_number: str | None = Field(default=None, max_length=64)
    temperature: float = Field(ge=30.0, le=45.0)


@app.post("/api/v1/checkpoint/verify")
async def verify(body: VerifyIn) -> dict:
    return CONSTANT


@app.get("/api/v1/constant")
async def constant() -> dict:
    return CONSTANT


@app.get("/healthz")
async def healthz() -> dict:
    return {"status": "ok"}
