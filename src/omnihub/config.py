"""Settings: environment variables (OMNIHUB_*) over ``omnihub.toml`` over defaults."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="OMNIHUB_", toml_file="omnihub.toml", extra="ignore"
    )

    database_url: str = "sqlite:///./omnihub.db"
    bus_url: str = "memory://"
    secret_key: str | None = None
    sweep_interval_seconds: float = Field(default=5.0, gt=0)
    max_body_bytes: int = Field(default=1_048_576, gt=0)
    db_pool_size: int = Field(default=10, gt=0)
    auto_migrate: bool = True
    review_rules: str | None = None
    """Path of a TOML file of review rules; the built-in defaults when unset."""
    same_day_radius_km: float = Field(default=5.0, gt=0)
    merge_window_seconds: float = Field(default=60.0, ge=0)
    pickup_pay_seconds: float = Field(default=900.0, gt=0)
    pickup_collect_seconds: float = Field(default=72 * 3600.0, gt=0)
    release_interval_seconds: float = Field(default=1.0, gt=0)
    stock_flush_seconds: float = Field(default=1.0, gt=0)
    """Stock changes are coalesced and pushed to channels at this interval."""
    full_compare_seconds: float = Field(default=300.0, gt=0)
    pull_seconds: float = Field(default=5.0, gt=0)
    """Pull channels (Taobao, JD, Pinduoduo) are asked for modified orders at this interval."""
    pull_settle_seconds: float = Field(default=2.0, ge=0)
    """A pull window ends this long before now: orders still being committed on the platform
    are read by the next window instead of being skipped."""
    pull_start_hours: float = Field(default=24.0, gt=0)
    """A channel pulled for the first time starts this far back."""
    delivery_max_attempts: int = Field(default=8, ge=1)
    delivery_backoff_seconds: float = Field(default=0.5, gt=0)
    delivery_timeout_seconds: float = Field(default=5.0, gt=0)
    endpoint_rate_per_second: float = Field(default=50.0, gt=0)
    workers: bool = True
    """Run the relay and the connector runtime in this process."""
    # -- back ends (ERP, WMS, instant delivery) ----------------------------------------------
    backends: str | list[dict[str, Any]] = Field(default_factory=list)
    """The back ends: the path of a TOML file of ``[[backends]]`` tables
    (``OMNIHUB_BACKENDS=backends.toml``), or the ``[[backends]]`` tables of omnihub.toml itself.
    Checked when the hub starts; one with problems keeps the server from starting."""
    backend_poll_seconds: float = Field(default=60.0, gt=0)
    """ERPs are asked for receipts and stock-takes approved since the last poll this often."""
    backend_poll_overlap_seconds: float = Field(default=600.0, ge=0)
    """Each ERP poll starts this long before the last one ended (documents approved late are
    read again; the ledger's references make a repeat harmless)."""
    rider_poll_seconds: float = Field(default=10.0, gt=0)
    """Live rider tasks are asked where their rider is this often (the track on the order)."""
    stock_compare_seconds: float = Field(default=86400.0, gt=0)
    """The full compare of the hub's stock with each ERP's and WMS's (nightly by default)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))
