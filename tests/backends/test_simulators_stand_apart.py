"""The back-end simulators are the second opinion on the adapters: each is written from its
system's documents, so it may use the standard library, httpx, the simulators' own bases,
the platforms' shared facts and the domain's plain values, and nothing of the adapters, the
ports or the services. A constant or field name shared with the adapter would be wrong on
both sides at once, and no test could see it."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import omnihub

pytestmark = pytest.mark.unit

PACKAGE = Path(omnihub.__file__).parent
SIMULATORS = PACKAGE / "simulators" / "backends"
ALLOWED = ("omnihub.simulators", "omnihub.platforms", "omnihub.domain")
SYSTEMS = ("erp/kingdee", "erp/odoo", "erp/erpnext", "wms/qimen", "delivery/dada")


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_every_back_end_simulator_lives_under_simulators_and_none_under_adapters() -> None:
    for system in SYSTEMS:
        assert (SIMULATORS / system / "simulator.py").is_file(), system
    assert sorted((PACKAGE / "adapters" / "backends").rglob("simulator.py")) == []


def test_a_simulator_imports_nothing_of_the_adapters_ports_or_services() -> None:
    modules = sorted(SIMULATORS.rglob("*.py"))
    assert len(modules) >= 2 * len(SYSTEMS)
    for module in modules:
        for name in imported(module):
            top = name.split(".")[0]
            allowed = (
                top in sys.stdlib_module_names
                or top == "httpx"
                or any(name == a or name.startswith(a + ".") for a in ALLOWED)
            )
            assert allowed, f"{module.relative_to(PACKAGE)} imports {name}"


def test_the_import_check_sees_an_adapter_import(tmp_path: Path) -> None:
    module = tmp_path / "leaky.py"
    module.write_text(
        "from omnihub.adapters.backends.wms.qimen import mapper\nimport json\n", encoding="utf-8"
    )
    assert imported(module) == {"omnihub.adapters.backends.wms.qimen", "json"}
