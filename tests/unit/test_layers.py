"""The layers import only what they may (docs/architecture.md): the domain itself; the ports the
domain; the use cases the domain, the ports and each other; the adapters never a use case or an
entry point. Read from the source, so a new import across a layer fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "omnihub"

ALLOWED = {
    "domain": ("omnihub.domain",),
    "ports": ("omnihub.domain", "omnihub.ports"),
    "services": ("omnihub.domain", "omnihub.ports", "omnihub.services"),
    "adapters": (
        "omnihub.domain",
        "omnihub.ports",
        "omnihub.adapters",
        "omnihub.platforms",
        "omnihub.simulators",
    ),  # fmt: skip
}


def imports_of(path: Path) -> list[str]:
    """Every ``omnihub`` module the file imports, at the top or inside a function."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
    return [name for name in found if name == "omnihub" or name.startswith("omnihub.")]


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_a_layer_imports_only_the_layers_beneath_it(layer: str) -> None:
    allowed = ALLOWED[layer]
    crossing = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in sorted((PACKAGE / layer).rglob("*.py"))
        for name in imports_of(path)
        if not any(name == a or name.startswith(a + ".") for a in allowed)
    ]
    assert crossing == []


def test_the_layers_are_found() -> None:
    assert all(any((PACKAGE / layer).rglob("*.py")) for layer in ALLOWED)
    assert "omnihub.domain.events" in imports_of(PACKAGE / "services" / "stock_sync.py")
