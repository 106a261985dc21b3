"""The channel simulators are a second opinion on the adapters: each is written from its
platform's documents and shares no code with the adapter it imitates, so a wrong field name or
constant is wrong on one side only and a test between the two catches it. This file keeps
that rule (what a simulator may import) and anchors each simulator's own signing to known
answers computed outside the project (openssl) and to the platforms' published samples."""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.shared_samples import needs_shared, shared_sample

import omnihub.simulators.channels as channel_simulators
from omnihub.simulators.base import PlatformSimulator
from omnihub.simulators.channels import douyin, eleme, jd, meituan, pdd, shopify, taobao
from omnihub.simulators.channels import omnihub_signature as own
from omnihub.simulators.channels import woocommerce as woo

pytestmark = pytest.mark.unit

SIMULATORS = Path(channel_simulators.__file__).parent
#: what a channel simulator may import from the project
ALLOWED = ("omnihub.simulators", "omnihub.platforms", "omnihub.domain.values")
#: third-party packages a simulator may use: its HTTP client
THIRD_PARTY = frozenset({"httpx"})
VECTORS = json.loads(
    (Path(__file__).parent / "fixtures" / "simulator_sign_vectors.json").read_text("utf-8")
)
TOP_VECTORS = json.loads(
    (Path(__file__).parent / "fixtures" / "taobao" / "top_sign_vectors.json").read_text("utf-8")
)


def imports_of(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def refused_import(name: str) -> bool:
    top = name.partition(".")[0]
    if top == "omnihub":
        return not any(name == a or name.startswith(a + ".") for a in ALLOWED)
    return top not in sys.stdlib_module_names and top not in THIRD_PARTY


#: every channel simulator and the base they stand on
MODULES = [SIMULATORS.parent / "base.py", *sorted(SIMULATORS.rglob("*.py"))]


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(SIMULATORS.parent)))
def test_a_channel_simulator_imports_nothing_of_the_adapters_ports_or_services(
    module: Path,
) -> None:
    refused = [name for name in imports_of(module) if refused_import(name)]
    assert refused == [], f"{module.name} imports {refused}"


def test_the_import_rule_would_catch_an_adapter_import() -> None:
    assert refused_import("omnihub.adapters.channels.taobao.signature")
    assert refused_import("omnihub.ports")
    assert refused_import("omnihub.domain.orders")
    assert not refused_import("omnihub.platforms.local_time")
    assert not refused_import("hashlib")


def test_every_platform_has_its_simulator_package() -> None:
    packages = {p.parent.name for p in SIMULATORS.glob("*/platform.py")}
    assert packages == {
        "taobao",
        "jd",
        "pdd",
        "douyin",
        "shopify",
        "woocommerce",
        "miniapp",
        "pos",
        "meituan",
        "eleme",
    }
    for module in (taobao, jd, pdd, douyin, shopify, woo, meituan, eleme):
        simulators = [
            value
            for value in vars(module).values()
            if isinstance(value, type) and issubclass(value, PlatformSimulator)
        ]
        assert len(simulators) == 1, module.__name__


# -- each simulator signs as its platform documents -----------------------------------------


@pytest.mark.parametrize("vector", TOP_VECTORS["vectors"], ids=lambda v: v["name"])
def test_the_top_simulator_signs_our_openssl_vectors(vector: dict[str, Any]) -> None:
    params, body = vector["params"], vector["body"].encode()
    sign = taobao.top_sign(params, TOP_VECTORS["secret"], params["sign_method"], body)
    assert sign == vector["expected_sign"]


@needs_shared
def test_the_top_simulator_signs_the_documented_worked_example() -> None:
    example = json.loads(shared_sample("taobao", "top_sign_md5_worked_example.json").read_text())
    sign = taobao.top_sign(example["params"], example["secret"], "md5")
    assert sign == example["expected_sign"]


def test_the_jd_simulator_signs_as_jos_documents() -> None:
    vector = VECTORS["jd"]
    assert jd.jos_sign(vector["secret"], vector["params"]) == vector["expected"]


def test_the_pdd_simulator_signs_as_the_open_platform_documents() -> None:
    vector = VECTORS["pdd"]
    assert pdd.pop_sign(vector["secret"], vector["params"]) == vector["expected"]


@pytest.mark.parametrize("method", ["md5", "hmac-sha256"])
def test_the_douyin_simulator_signs_calls_both_ways(method: str) -> None:
    vector = VECTORS["douyin_call"]
    sign = douyin.call_sign(
        vector["app_key"],
        vector["secret"],
        vector["method"],
        vector["param_json"],
        vector["timestamp"],
        method,
    )
    assert sign == vector["expected_" + method.replace("-", "_")]


def test_the_douyin_simulator_signs_its_pushes_with_event_sign() -> None:
    vector = VECTORS["douyin_event"]
    body = vector["body"].encode()
    assert douyin.event_sign(vector["app_key"], vector["secret"], body) == vector["expected_md5"]


def test_the_meituan_simulator_signs_over_the_url_and_sorted_parameters() -> None:
    vector = VECTORS["meituan"]
    assert meituan.sig(vector["url"], vector["params"], vector["secret"]) == vector["expected"]


def test_the_eleme_simulator_signs_pushes_and_calls_as_the_sdks_do() -> None:
    push, api = VECTORS["eleme_push"], VECTORS["eleme_api"]
    assert eleme.push_signature(push["envelope"], push["secret"]) == push["expected"]
    sign = eleme.api_signature(
        api["action"], api["token"], api["metas"], api["params"], api["secret"]
    )
    assert sign == api["expected"]


def test_our_own_systems_sign_timestamp_dot_body() -> None:
    vector = VECTORS["omnihub"]
    body = vector["body"].encode()
    assert own.signature(vector["secret"], vector["timestamp"], body) == vector["expected"]


def test_the_woocommerce_simulator_signs_the_body_as_sent() -> None:
    vector = VECTORS["woocommerce"]
    assert woo.webhook_signature(vector["secret"], vector["body"].encode()) == vector["expected"]


@needs_shared
def test_the_shopify_simulator_signs_the_published_hmac_vector() -> None:
    vector = json.loads(
        shared_sample("shopify", "webhook_hmac_test_vector_from_sqlpage.json").read_text()
    )
    body = vector["raw_body"].encode()
    assert shopify.webhook_hmac(vector["secret"], body) == vector["expected_header_value_base64"]


def test_the_shopify_simulator_signs_our_openssl_vector() -> None:
    here = Path(__file__).parent / "fixtures" / "shopify"
    vector = json.loads((here / "webhook_hmac_vector.json").read_text())
    body = (here / vector["body_file"]).read_bytes()
    assert shopify.webhook_hmac(vector["secret"], body) == vector["expected"]


# -- the adapters meet the same known answers ------------------------------------------------


def test_the_adapters_sign_the_same_known_answers_as_the_simulators() -> None:
    """Both sides, written apart, against answers computed outside the project."""
    from omnihub.adapters.channels.douyin import signature as douyin_signature
    from omnihub.adapters.channels.eleme import signature as eleme_signature
    from omnihub.adapters.channels.jd import signature as jd_signature
    from omnihub.adapters.channels.meituan import signature as meituan_signature
    from omnihub.adapters.channels.miniapp import signature as own_signature
    from omnihub.adapters.channels.pdd import signature as pdd_signature
    from omnihub.adapters.channels.woocommerce import signature as woo_signature

    v = VECTORS
    assert jd_signature.sign(v["jd"]["secret"], v["jd"]["params"]) == v["jd"]["expected"]
    assert pdd_signature.sign(v["pdd"]["secret"], v["pdd"]["params"]) == v["pdd"]["expected"]
    call = v["douyin_call"]
    for method in ("md5", "hmac-sha256"):
        sign = douyin_signature.request_signature(
            call["app_key"],
            call["secret"],
            call["method"],
            call["param_json"],
            call["timestamp"],
            method,
        )
        assert sign == call["expected_" + method.replace("-", "_")]
    event = v["douyin_event"]
    assert (
        douyin_signature.push_signature(event["app_key"], event["secret"], event["body"].encode())
        == (event["expected_md5"])
    )
    mt = v["meituan"]
    assert meituan_signature.sig(mt["url"], mt["params"], mt["secret"]) == mt["expected"]
    push, api = v["eleme_push"], v["eleme_api"]
    assert eleme_signature.push_signature(push["envelope"], push["secret"]) == push["expected"]
    assert (
        eleme_signature.api_signature(
            api["action"], api["token"], api["metas"], api["params"], api["secret"]
        )
        == (api["expected"])
    )
    mine = v["omnihub"]
    assert (
        own_signature.signature(mine["secret"], mine["timestamp"], mine["body"].encode())
        == (mine["expected"])
    )
    wc = v["woocommerce"]
    assert woo_signature.sign(wc["secret"], wc["body"].encode()) == wc["expected"]
