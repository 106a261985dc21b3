"""The back-end config as a person writes it (a TOML file of ``[[backends]]`` named by
``OMNIHUB_BACKENDS``, or the ``[[backends]]`` tables of omnihub.toml): checked when the hub
starts, refused with every problem named, and listed by the API without its secrets."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tests.backends.flow_hub import (
    STORE,
    WAREHOUSE,
    Forwarder,
    StartHub,
    backends_toml,
    dada_backend,
    kingdee_backend,
    qimen_backend,
)
from tests.e2e.server import ServerFailedToStart, running_server

from omnihub.bootstrap import backend_configs
from omnihub.config import Settings
from omnihub.ports import InvalidBackendConfig
from omnihub.simulators.backends.delivery.dada import DadaSimulator
from omnihub.simulators.backends.erp.kingdee import KingdeeSimulator
from omnihub.simulators.backends.wms.qimen import QimenWmsSimulator

BROKEN = """
[[backends]]
code = "wms"
kind = "wms"
adapter = "qimen"
endpoint = "ftp://wms.example.com"
locations = ["WH-SH"]
credentials = { app_key = "k", customer_id = "c" }
settings = { owner_code = "OMNI", compare = "sometimes" }

[[backends]]
code = "rider"
kind = "delivery"
adapter = "fengniao"
endpoint = "https://rider.example.com"
locations = ["WH-SH"]
"""


@pytest.mark.e2e
def test_the_server_refuses_to_start_and_names_every_problem_of_the_backend_config(
    sqlite_url: str, tmp_path: Path
) -> None:
    config = tmp_path / "backends.toml"
    config.write_text(BROKEN, encoding="utf-8")

    with (
        pytest.raises(ServerFailedToStart) as refused,
        running_server(
            sqlite_url,
            workers=1,
            workdir=tmp_path / "server",
            settings={"OMNIHUB_BACKENDS": str(config)},
        ),
    ):
        pytest.fail("the server started with a broken back-end config")

    message = str(refused.value)
    assert "exited with status 2" in message
    assert "the back-end config has 5 problem(s); the hub does not start" in message
    for problem in (
        "backends[wms].endpoint must be an http(s) URL, not 'ftp://wms.example.com'",
        "backends[wms].warehouses.WH-SH is missing",
        "backends[wms].credentials.app_secret is required by qimen",
        "backends[rider].adapter 'fengniao' is not known",
        "backends[rider].warehouses.WH-SH is missing",
    ):
        assert problem in message, problem


@pytest.mark.unit
def test_the_hubs_own_rules_are_checked_once_the_adapters_checks_pass(tmp_path: Path) -> None:
    config = tmp_path / "backends.toml"
    config.write_text(
        backends_toml(
            [
                {
                    "code": "wms",
                    "kind": "wms",
                    "adapter": "qimen",
                    "endpoint": "https://wms.example.com",
                    "credentials": {"app_key": "k", "app_secret": "s", "customer_id": "c"},
                    "locations": [WAREHOUSE],
                    "warehouses": {WAREHOUSE: "QM-1"},
                    "settings": {
                        "owner_code": "OMNI",
                        "compare": "sometimes",
                        "correct_max_units": -1,
                    },
                }
            ]
        ),
        encoding="utf-8",
    )

    with pytest.raises(InvalidBackendConfig) as refused:
        backend_configs(Settings(backends=str(config)))

    assert refused.value.problems == [
        "backends[wms].settings.compare must be one of off, report, correct, not 'sometimes'",
        "backends[wms].settings.correct_max_units must be a whole number of 0 or more",
    ]


@pytest.mark.unit
def test_a_config_file_that_is_missing_or_not_toml_is_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidBackendConfig, match="nowhere.toml cannot be read"):
        backend_configs(Settings(backends=str(tmp_path / "nowhere.toml")))
    bad = tmp_path / "bad.toml"
    bad.write_text("[[backends]\ncode = 1", encoding="utf-8")
    with pytest.raises(InvalidBackendConfig, match="is not TOML"):
        backend_configs(Settings(backends=str(bad)))
    assert backend_configs(Settings(backends=[])) == {}


@pytest.mark.unit
def test_backends_may_be_the_backends_tables_of_omnihub_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("OMNIHUB_")]:
        monkeypatch.delenv(name)
    (tmp_path / "omnihub.toml").write_text(
        backends_toml(
            [
                {
                    "code": "erp",
                    "kind": "erp",
                    "adapter": "odoo",
                    "endpoint": "https://odoo.example.com",
                    "credentials": {"db": "prod", "login": "api", "password": "p"},
                    "locations": [WAREHOUSE],
                    "warehouses": {WAREHOUSE: "SH"},
                    "settings": {"customer": "7"},
                }
            ]
        ),
        encoding="utf-8",
    )

    configs = backend_configs(Settings())

    assert list(configs) == ["erp"]
    assert configs["erp"].warehouse_of(WAREHOUSE) == "SH"


@pytest.mark.e2e
def test_the_configured_backends_are_listed_without_their_secrets(
    sqlite_url: str,
    start_hub: StartHub,
    forwarder: Forwarder,
    qimen: QimenWmsSimulator,
    dada: DadaSimulator,
    kingdee: KingdeeSimulator,
) -> None:
    backends = [
        qimen_backend(qimen, compare="correct"),
        dada_backend(dada, forwarder),
        kingdee_backend(kingdee),
    ]
    running = start_hub(sqlite_url, backends)

    listed = running.hub.get("/api/v1/backends")["items"]

    assert [(b["code"], b["kind"], b["adapter"]) for b in listed] == [
        ("dada", "delivery", "dada"),
        ("erp", "erp", "kingdee"),
        ("wms", "wms", "qimen"),
    ]
    by_code = {b["code"]: b for b in listed}
    assert by_code["wms"]["credentials"] == ["app_key", "app_secret", "customer_id"]
    assert by_code["wms"]["rules"]["compare"] == "correct"
    assert by_code["wms"]["callback_path"] == "/api/v1/backends/wms/callbacks"
    assert by_code["erp"]["callback_path"] is None  # Kingdee is polled
    assert by_code["dada"]["settings"]["callback_token"] == "(set)"
    assert by_code["erp"]["locations"] == [WAREHOUSE, STORE]
    assert all(b["unknown_locations"] == [] for b in listed)
    text = json.dumps(listed, ensure_ascii=False)
    for secret in (qimen.app_secret, dada.app_secret, kingdee.password, "cb-token-1"):
        assert secret not in text
    missing = running.hub.http.get(f"{running.base_url}/api/v1/backends/nope")
    assert missing.status_code == 404
    assert "configured back ends: dada, erp, wms" in missing.json()["error"]["message"]
