"""The layering the brief asks for, checked on the source: `cases/` (the core) imports no face, Prefect,
flow, task or process code; `api/` and `ui/` are two faces that never import each other, nor the
composition root `web/` that joins them into the served application."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "cases": {"api", "ui", "web", "flows", "tasks", "ops", "prefect"},  # Prefect is orchestration: the core never needs it
    "api": {"ui", "web"},
    "ui": {"api", "web"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_what_its_layer_may(package):
    offenders = []
    for path in sorted((ROOT / package).rglob("*.py")):
        rel = path.relative_to(ROOT)
        if "migrations" in rel.parts:
            continue
        bad = _imports(path) & FORBIDDEN[package]
        if bad:
            offenders.append(f"{rel}: imports {', '.join(sorted(bad))}")
    assert not offenders, offenders
