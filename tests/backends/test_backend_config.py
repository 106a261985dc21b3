"""Back-end configs are checked when loaded, and every problem is reported at once, each
naming its field."""

from __future__ import annotations

from typing import Any

import pytest
from tests.backends.backend_world import CAP, HZ_WH, SH_STORE, SH_WH

from omnihub.adapters.backends import REGISTRY, adapter_for, load_backends
from omnihub.adapters.backends.config import parse_backend
from omnihub.domain.backends import BackendKind
from omnihub.domain.errors import ErrorCode
from omnihub.ports import InvalidBackendConfig

pytestmark = pytest.mark.unit


def kingdee(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "code": "erp-main",
        "kind": "erp",
        "adapter": "kingdee",
        "endpoint": "https://erp.example.com/K3Cloud",
        "credentials": {"acct_id": "62a1", "username": "api", "password": "pw"},
        "locations": [SH_WH, HZ_WH],
        "warehouses": {SH_WH: "CK001", HZ_WH: "CK002"},
        "skus": {CAP: "1.02.0007"},
        "settings": {"sale_org": "100", "customer": "CUST0001"},
    }
    data.update(changes)
    return data


def qimen(code: str = "wms-sh", locations: list[str] | None = None) -> dict[str, Any]:
    locations = locations or [SH_WH]
    return {
        "code": code,
        "kind": "wms",
        "adapter": "qimen",
        "endpoint": "https://wms.example.com/router",
        "credentials": {"app_key": "k", "app_secret": "s", "customer_id": "c"},
        "locations": locations,
        "warehouses": {loc: f"QM-{loc}" for loc in locations},
        "settings": {"owner_code": "OMNI"},
    }


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(InvalidBackendConfig) as refused:
        parse_backend(data)
    assert refused.value.code == ErrorCode.VALIDATION
    return refused.value.problems


def test_a_complete_config_loads_with_its_mappings_both_ways() -> None:
    config = parse_backend(kingdee())
    assert (config.kind, config.adapter, config.locations) == (
        BackendKind.ERP,
        "kingdee",
        (SH_WH, HZ_WH),
    )
    assert (config.warehouse_of(SH_WH), config.location_of("CK002")) == ("CK001", HZ_WH)
    assert config.location_of("CK999") is None
    assert (config.item_code(CAP), config.sku_of("1.02.0007")) == ("1.02.0007", CAP)
    assert (config.item_code("TEE"), config.sku_of("TEE")) == ("TEE", "TEE")
    assert config.url("/x") == "https://erp.example.com/K3Cloud/x"


def test_every_problem_is_reported_at_once_naming_its_field() -> None:
    found = problems(
        kingdee(
            kind="crm",
            endpoint="ftp://x",
            locations=[SH_WH, SH_WH],
            timeout_seconds=0,
            colour="red",
        )
    )
    assert any(p.startswith("backends[erp-main].kind must be one of erp") for p in found)
    assert any(p.startswith("backends[erp-main].endpoint must be an http(s) URL") for p in found)
    assert "backends[erp-main].locations lists WH-SH twice" in found
    assert any(p.startswith("backends[erp-main].timeout_seconds") for p in found)
    assert "backends[erp-main].colour is not a backend field" in found
    assert any(
        p.startswith("backends[erp-main].warehouses.WH-HZ maps a location it does not")
        for p in found
    )


def test_a_served_location_without_the_systems_code_is_refused() -> None:
    assert problems(kingdee(warehouses={SH_WH: "CK001"})) == [
        "backends[erp-main].warehouses.WH-HZ is missing: every served location needs the "
        "system's code for it"
    ]


def test_two_locations_mapped_to_one_warehouse_are_ambiguous() -> None:
    assert problems(kingdee(warehouses={SH_WH: "CK001", HZ_WH: "CK001"})) == [
        "backends[erp-main].warehouses maps both WH-SH and WH-HZ to CK001"
    ]


def test_two_skus_mapped_to_one_item_code_are_ambiguous() -> None:
    assert problems(kingdee(skus={CAP: "X", "TEE": "X"})) == [
        "backends[erp-main].skus maps both CAP-BLUE and TEE to X"
    ]


def test_the_adapters_own_credentials_and_settings_are_required() -> None:
    found = problems(kingdee(credentials={"username": "api"}, settings={}))
    assert "backends[erp-main].credentials.acct_id is required by kingdee" in found
    assert "backends[erp-main].credentials.password is required by kingdee" in found
    assert "backends[erp-main].settings.sale_org is required by kingdee" in found
    assert "backends[erp-main].settings.customer is required by kingdee" in found


def test_an_unknown_adapter_lists_the_known_ones() -> None:
    (problem,) = problems(kingdee(adapter="sap"))
    assert problem == (
        "backends[erp-main].adapter 'sap' is not known; adapters are dada, "
        "erpnext, kingdee, odoo, qimen"
    )


def test_an_adapter_of_another_kind_is_refused() -> None:
    assert "backends[erp-main].adapter qimen is a wms adapter, not a erp one" in problems(
        kingdee(adapter="qimen")
    )


def test_a_credential_must_be_text() -> None:
    found = problems(kingdee(credentials={"acct_id": ["a"], "username": "u", "password": "p"}))
    assert "backends[erp-main].credentials.acct_id must be text, not list" in found


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {
                "code": "erp-odoo",
                "kind": "erp",
                "adapter": "odoo",
                "endpoint": "http://odoo:8069",
                "credentials": {"db": "d", "login": "l", "password": "p"},
                "locations": [SH_WH],
                "warehouses": {SH_WH: "SH"},
                "settings": {"customer": "Walk-in"},
            },
            "backends[erp-odoo].settings.customer must be the partner id",
        ),
        (
            {
                "code": "dada-sh",
                "kind": "delivery",
                "adapter": "dada",
                "endpoint": "https://x",
                "credentials": {"app_key": "k", "app_secret": "s", "source_id": "1"},
                "locations": [SH_STORE],
                "warehouses": {SH_STORE: "1"},
                "settings": {"city_code": "021", "callback_url": "hub/callbacks"},
            },
            "backends[dada-sh].settings.callback_url must be the hub's http(s) URL",
        ),
        (
            {
                "code": "erp-next",
                "kind": "erp",
                "adapter": "erpnext",
                "endpoint": "https://x",
                "credentials": {"api_key": "k", "api_secret": "s"},
                "locations": [SH_WH],
                "warehouses": {SH_WH: "Stores - SH"},
                "settings": {"customer": "C", "timezone": "Mars"},
            },
            "backends[erp-next].settings.timezone 'Mars' is unknown",
        ),
    ],
)
def test_adapter_specific_values_are_checked(data: dict[str, Any], expected: str) -> None:
    (problem,) = problems(data)
    assert problem.startswith(expected)


def test_a_location_served_by_two_warehouse_systems_is_refused() -> None:
    with pytest.raises(InvalidBackendConfig) as refused:
        load_backends([qimen("wms-a", [SH_WH]), qimen("wms-b", [SH_WH, HZ_WH])])
    assert refused.value.problems == [
        "location WH-SH is served by two wms backends: wms-a and wms-b"
    ]


def test_an_erp_may_serve_locations_a_wms_serves_too() -> None:
    configs = load_backends([kingdee(), qimen()])
    assert sorted(configs) == ["erp-main", "wms-sh"]


def test_a_code_defined_twice_is_refused() -> None:
    with pytest.raises(InvalidBackendConfig, match="defined twice"):
        load_backends([qimen(), qimen()])


def test_problems_in_several_backends_are_reported_together() -> None:
    with pytest.raises(InvalidBackendConfig) as refused:
        load_backends([kingdee(endpoint=""), qimen(code="")])
    assert len(refused.value.problems) == 2


def test_asking_a_config_for_a_location_it_does_not_serve_names_what_it_serves() -> None:
    config = parse_backend(kingdee())
    with pytest.raises(
        InvalidBackendConfig, match="does not serve location 'ST-X'; it serves WH-SH, WH-HZ"
    ):
        config.warehouse_of("ST-X")


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_registered_adapter_loads_and_declares_its_kind(name: str) -> None:
    adapter = adapter_for(name)
    assert adapter.name == name
    assert adapter.kind in set(BackendKind)
    assert adapter_for(name) is adapter
