"""The OpenAPI schema is the integration contract for the WeChat account, the app and checkpoint devices."""
from __future__ import annotations

import pytest


def _resolve(spec: dict, schema: dict) -> dict:
    ref = schema.get("$ref")
    if ref:
        return spec["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    return schema


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_every_json_request_body_carries_an_example(api):
    spec = api.get("/openapi.json").json()
    missing = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            content = op.get("requestBody", {}).get("content", {})
            body = content.get("application/json")
            if body is None:
                continue
            schema = _resolve(spec, body.get("schema", {}))
            if not (body.get("examples") or body.get("example") or schema.get("examples") or schema.get("example")):
                missing.append(f"{method.upper()} {path}")
    assert not missing, missing
