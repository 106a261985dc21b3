"""The layers import only what they may (docs/architecture.md): the import-linter contracts of
pyproject.toml, checked here too so that `make test` alone catches an import across a layer
or a cycle (`make lint` runs the same contracts with their report)."""

from __future__ import annotations

from pathlib import Path

import pytest
from importlinter import configuration
from importlinter.application.use_cases import lint_imports

pytestmark = pytest.mark.unit

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_every_layer_contract_is_kept() -> None:
    configuration.configure()  # as the lint-imports command does before it checks
    assert lint_imports(config_filename=str(PYPROJECT), no_logo=True), "see the report above"


def test_the_contracts_name_every_layer() -> None:
    text = PYPROJECT.read_text(encoding="utf-8")
    for layer in ("domain", "ports", "services", "adapters", "simulators", "platforms"):
        assert f'source_modules = ["omnihub.{layer}"]' in text, layer
    assert 'type = "acyclic_siblings"' in text
