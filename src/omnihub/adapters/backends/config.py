"""One back end as configured: which adapter speaks for it, how to reach it, which of our
locations it serves and how its codes differ from ours.

Loaded from a plain mapping (a YAML/JSON/TOML document or a database row), e.g.::

    code: erp-main
    kind: erp
    adapter: kingdee
    endpoint: https://erp.example.com/K3Cloud
    credentials: {acct_id: "62a...", username: api, password: "..."}
    locations: [WH-SH, WH-HZ]
    warehouses: {WH-SH: CK001, WH-HZ: CK002}   # our location -> their warehouse/shop code
    skus: {TEE-RED-M: "1.01.001"}              # only the SKUs whose code differs
    settings: {sale_org: "100", customer: "CUST0001"}

Every problem is collected and reported at once, each naming its field
(``backends[erp-main].warehouses.WH-SH``), so a config is fixed in one pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from omnihub.adapters.backends.registry import REGISTRY, adapter_for
from omnihub.domain.backends import BackendKind
from omnihub.ports import BackendConfig, InvalidBackendConfig
from omnihub.ports.backends import serving as serving


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _string_map(
    data: Mapping[str, Any], name: str, where: str, problems: list[str]
) -> dict[str, str]:
    raw = data.get(name)
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        problems.append(f"{where}.{name} must be a mapping, not {type(raw).__name__}")
        return {}
    out: dict[str, str] = {}
    for key, value in raw.items():
        if not _text(key):
            problems.append(f"{where}.{name} has an empty key")
        elif isinstance(value, bool) or not isinstance(value, str | int):
            problems.append(f"{where}.{name}.{key} must be text, not {type(value).__name__}")
        elif str(value).strip() == "":
            problems.append(f"{where}.{name}.{key} is empty")
        else:
            out[str(key)] = str(value)
    return out


def parse_backend(data: Mapping[str, Any]) -> BackendConfig:
    """A validated config, or ``InvalidBackendConfig`` listing every problem by field."""
    if not isinstance(data, Mapping):
        raise InvalidBackendConfig(f"a backend must be a mapping, not {type(data).__name__}")
    problems: list[str] = []
    code = data.get("code")
    where = f"backends[{code}]" if _text(code) else "backends[?]"
    if not _text(code):
        problems.append(f"{where}.code is required (a name such as erp-main)")

    kind: BackendKind | None = None
    try:
        kind = BackendKind(str(data.get("kind")))
    except ValueError:
        problems.append(
            f"{where}.kind must be one of {', '.join(k.value for k in BackendKind)}, "
            f"not {data.get('kind')!r}"
        )

    adapter_name = data.get("adapter")
    adapter = None
    if adapter_name not in REGISTRY:
        problems.append(
            f"{where}.adapter {adapter_name!r} is not known; adapters are "
            f"{', '.join(sorted(REGISTRY))}"
        )
    else:
        adapter = adapter_for(str(adapter_name))
        if kind is not None and adapter.kind != kind:
            problems.append(
                f"{where}.adapter {adapter_name} is a {adapter.kind} adapter, not a {kind} one"
            )

    endpoint = data.get("endpoint")
    parts = urlsplit(str(endpoint)) if _text(endpoint) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        problems.append(f"{where}.endpoint must be an http(s) URL, not {endpoint!r}")

    credentials = _string_map(data, "credentials", where, problems)
    warehouses = _string_map(data, "warehouses", where, problems)
    skus = _string_map(data, "skus", where, problems)

    raw_locations = data.get("locations")
    locations: list[str] = []
    if not isinstance(raw_locations, list | tuple) or not raw_locations:
        problems.append(f"{where}.locations must list the location codes it serves")
    else:
        for index, location in enumerate(raw_locations):
            if not _text(location):
                problems.append(f"{where}.locations[{index}] must be a location code")
            elif location in locations:
                problems.append(f"{where}.locations lists {location} twice")
            else:
                locations.append(location)
    for location in locations:
        if location not in warehouses:
            problems.append(
                f"{where}.warehouses.{location} is missing: every served location needs the "
                "system's code for it"
            )
    for location in warehouses:
        if location not in locations:
            problems.append(f"{where}.warehouses.{location} maps a location it does not serve")
    seen: dict[str, str] = {}
    for location, their in warehouses.items():
        if their in seen:
            problems.append(f"{where}.warehouses maps both {seen[their]} and {location} to {their}")
        seen[their] = location
    seen_items: dict[str, str] = {}
    for sku, their in skus.items():
        if their in seen_items:
            problems.append(f"{where}.skus maps both {seen_items[their]} and {sku} to {their}")
        seen_items[their] = sku

    settings = data.get("settings") or {}
    if not isinstance(settings, Mapping):
        problems.append(f"{where}.settings must be a mapping")
        settings = {}

    timeout = data.get("timeout_seconds", 10.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        problems.append(f"{where}.timeout_seconds must be a positive number, not {timeout!r}")
        timeout = 10.0

    unknown = set(data) - {
        "code",
        "kind",
        "adapter",
        "endpoint",
        "credentials",
        "locations",
        "warehouses",
        "skus",
        "settings",
        "timeout_seconds",
    }
    for name in sorted(unknown):
        problems.append(f"{where}.{name} is not a backend field")

    if adapter is not None:
        for name in adapter.required_credentials:
            if name not in credentials:
                problems.append(f"{where}.credentials.{name} is required by {adapter.name}")
        for name in adapter.required_settings:
            if settings.get(name) in (None, ""):
                problems.append(f"{where}.settings.{name} is required by {adapter.name}")

    if problems:
        raise InvalidBackendConfig(problems)
    assert kind is not None
    assert adapter is not None
    config = BackendConfig(
        code=str(code),
        kind=kind,
        adapter=str(adapter_name),
        endpoint=str(endpoint),
        credentials=credentials,
        locations=tuple(locations),
        warehouses=warehouses,
        skus=skus,
        settings=dict(settings),
        timeout_seconds=float(timeout),
    )
    extra = adapter.check_config(config)
    if extra:
        raise InvalidBackendConfig(extra)
    return config


def parse_backends(items: Iterable[Mapping[str, Any]]) -> dict[str, BackendConfig]:
    """Every backend by code. Besides each one's own checks: codes are unique, and no
    location is served by two WMSs or two delivery providers (which one would it use?)."""
    problems: list[str] = []
    configs: dict[str, BackendConfig] = {}
    for item in items:
        try:
            config = parse_backend(item)
        except InvalidBackendConfig as exc:
            problems.extend(exc.problems)
            continue
        if config.code in configs:
            problems.append(f"backends[{config.code}] is defined twice")
            continue
        configs[config.code] = config
    for kind in (BackendKind.WMS, BackendKind.DELIVERY):
        owner: dict[str, str] = {}
        for config in configs.values():
            if config.kind != kind:
                continue
            for location in config.locations:
                if location in owner:
                    problems.append(
                        f"location {location} is served by two {kind} backends: "
                        f"{owner[location]} and {config.code}"
                    )
                owner[location] = config.code
    if problems:
        raise InvalidBackendConfig(problems)
    return configs
