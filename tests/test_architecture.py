"""The layering the brief asks for, checked on the source: `cases/` (the core) imports no face, Prefect,
flow, task or process code; `api/` and `ui/` are two faces that never import each other (the app
factory `api/main.py` is the composition root that mounts the pages)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "cases": {"api", "ui", "flows", "tasks", "ops", "prefect"},  # Prefect is orchestration: the core never needs it
    "api": {"ui"},
    "ui": {"api"},
}
COMPOSITION_ROOTS = {Path("api/main.py")}


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
        if rel in COMPOSITION_ROOTS or "migrations" in rel.parts:
            continue
        bad = _imports(path) & FORBIDDEN[package]
        if bad:
            offenders.append(f"{rel}: imports {', '.join(sorted(bad))}")
    assert not offenders, offenders
