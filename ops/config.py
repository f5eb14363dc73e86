"""Platform settings: one place that decides embedded or external servers.

Precedence, highest first: explicit overrides passed by the CLI, `CRM_*` environment
variables, `crm.toml` in the working directory (or `CRM_CONFIG`), then defaults.
When `database_url` / `kafka_bootstrap` are unset, the embedded servers start.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from projections.business_time import DEFAULT_TIMEZONE, zone

DEFAULT_RATES_TO_CNY: dict[str, Decimal] = {
    "CNY": Decimal("1"),
    "USD": Decimal("7.10"),
    "EUR": Decimal("7.70"),
    "GBP": Decimal("9.00"),
    "JPY": Decimal("0.048"),
    "HKD": Decimal("0.91"),
}


class Settings(BaseSettings):
    """Every knob of the platform, with the defaults RULES.md and DESIGN.md give."""

    model_config = SettingsConfigDict(env_prefix="CRM_", extra="ignore")

    data_dir: Path = Field(default=Path(".crm"), description="where embedded servers keep data")
    database_url: str | None = Field(default=None, description="external PostgreSQL URL")
    kafka_bootstrap: str | None = Field(default=None, description="external Kafka host:port list")
    kafka_topic: str = "crm.events"
    kafka_partitions: int = Field(default=4, ge=1)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    jwt_secret: str | None = Field(default=None, description="HS256 secret; generated if unset")
    master_key: str | None = Field(default=None, description="base64 key wrapping customer keys")
    production: bool = False
    max_token_ttl_days: int = Field(
        default=30, ge=1, le=3650, description="longest token lifetime minted or accepted"
    )
    base_currency: str = "CNY"
    rates_to_cny: dict[str, Decimal] = Field(default_factory=lambda: dict(DEFAULT_RATES_TO_CNY))
    snapshot_interval: int = Field(default=50, ge=1)
    timezone: str = Field(
        default=DEFAULT_TIMEZONE,
        description="IANA zone of business dates: cohort months, funnel days, today",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zone(value)  # UnknownTimeZone (a ValueError) names the rule
        return value

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = Path(os.environ.get("CRM_CONFIG", "crm.toml"))
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_file),
        )

    @property
    def embedded_database(self) -> bool:
        return not self.database_url

    @property
    def embedded_kafka(self) -> bool:
        return not self.kafka_bootstrap

    @property
    def endpoints_file(self) -> Path:
        return self.data_dir / "endpoints.json"

    @property
    def analytics_path(self) -> Path:
        return self.data_dir / "analytics" / "analytics.duckdb"

    @property
    def run_dir(self) -> Path:
        """Heartbeats and the supervisor's status file (`run/<component>.json`)."""
        return self.data_dir / "run"

    @property
    def logs_dir(self) -> Path:
        """One log file per supervised process."""
        return self.data_dir / "logs"

    @property
    def local_host(self) -> str:
        """The address a local client uses to reach `host` (a wildcard bind is not one)."""
        return "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host

    @property
    def graphql_url(self) -> str:
        return f"http://{self.local_host}:{self.port}/graphql"

    @property
    def console_url(self) -> str:
        """The web console (`gateway.console`), served by the gateway at its root."""
        return f"http://{self.local_host}:{self.port}/"

    @property
    def health_url(self) -> str:
        return f"http://{self.local_host}:{self.port}/healthz"


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment and `crm.toml`, with non-None overrides on top."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def env_name(field: str) -> str:
    """The environment variable that sets a field: `port` -> `CRM_PORT`."""
    return f"CRM_{field.upper()}"


def load_settings_checked(**overrides: Any) -> Settings:
    """`load_settings`, with a bad value reported as a `SettingError` naming the variable."""
    from pydantic import ValidationError

    from ops.errors import SettingError

    try:
        return load_settings(**overrides)
    except ValidationError as error:
        first = error.errors()[0]
        field = str(first["loc"][0]) if first.get("loc") else None
        setting = env_name(field) if field else "settings"
        raise SettingError(setting, f"{first['msg']} (got {first.get('input')!r})") from None
