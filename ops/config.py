"""Platform settings: one place that decides embedded or external servers.

Precedence, highest first: explicit overrides passed by the CLI, `CRM_*` environment
variables, `crm.toml` in the working directory (or `CRM_CONFIG`), then defaults.
When `database_url` / `kafka_bootstrap` are unset, the embedded servers start.
"""

from __future__ import annotations

import os
import re
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from commands.crypto import parse_master_key
from gateway.auth import PROVIDER_ALGORITHMS, IdentityProvider
from projections.business_time import DEFAULT_TIMEZONE, zone
from streams.kafka_clients import KafkaConfigError, KafkaSecurity, Mechanism, Protocol

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
    database_pooler: Literal["none", "transaction"] = Field(
        default="none", description="`transaction`: the URL is a transaction-pooling PgBouncer"
    )
    database_direct_url: str | None = Field(
        default=None,
        description="the server itself, past the pooler: the relay's leader lock and LISTEN",
    )
    # Connections per process (docs/deployment.md has the formula for N processes).
    database_pool_gateway: int = Field(default=8, ge=1, le=200)
    database_pool_gateway_overflow: int = Field(default=16, ge=0, le=200)
    database_read_pool: int = Field(default=8, ge=1, le=200)
    kafka_bootstrap: str | None = Field(default=None, description="external Kafka host:port list")
    kafka_topic: str = "crm.events"
    kafka_group_prefix: str = Field(
        default="crm",
        pattern=r"^[A-Za-z0-9._]+(-[A-Za-z0-9._]+)*$",
        max_length=100,
        description="first part of the consumer groups' names (crm-projections, ...): "
        "give each installation sharing a Kafka cluster its own",
    )
    kafka_partitions: int = Field(
        default=4,
        ge=1,
        le=1000,
        description="partitions of a new topic (not widened live)",
    )
    kafka_replication_factor: int = Field(
        default=1, ge=1, le=16, description="replicas of each partition (a new topic only)"
    )
    worker_join_timeout: float = Field(
        default=25.0,
        gt=0,
        le=600,
        description="seconds a worker waits for its consumer group to give it partitions "
        "before it logs every thread's stack and joins again, in place",
    )
    relay_keep_messages: int | None = Field(
        default=None,
        ge=0,
        description="Kafka messages built at commit kept this many positions behind the "
        "relay's bookmark (older ones are rebuilt by a re-publish); unset: 1,000,000",
    )
    # A managed cluster's security (docs/deployment.md); every client gets them through
    # `streams.kafka_clients`. The embedded broker speaks PLAINTEXT.
    kafka_security_protocol: Protocol = "PLAINTEXT"
    kafka_sasl_mechanism: Mechanism | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: str | None = Field(default=None, repr=False)
    kafka_ssl_cafile: Path | None = Field(default=None, description="CA bundle (PEM)")
    kafka_ssl_certfile: Path | None = Field(default=None, description="client cert (mTLS)")
    kafka_ssl_keyfile: Path | None = Field(default=None, description="client key (mTLS)")
    kafka_ssl_check_hostname: bool = True
    # Two of each by default: a kill -9 of one is covered by the other within the 5 s
    # recovery target, where a restarted process alone took 6-16 s (bench/NOTES.md,
    # "Recovery by default"); the second costs ~60-130 MiB each.
    relays: int = Field(
        default=2, ge=1, description="relay processes `crm up` runs: one leads, the rest stand by"
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    gateways: int = Field(
        default=2, ge=1, le=64, description="gateway processes `crm up` runs on the one port"
    )
    workers: int = Field(
        default=2,
        ge=1,
        le=64,
        description="processes per topic worker (projections, analytics) sharing its partitions",
    )
    probe_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="port of a relay's or worker's /livez and /readyz (0: any free port)",
    )
    process_name: str | None = Field(
        default=None, description="this process's name in health answers (`crm up` sets it)"
    )
    listen_fd: int | None = Field(
        default=None,
        ge=0,
        description="a listening socket the gateway serves on, inherited from `crm up`",
    )
    jwt_secret: str | None = Field(default=None, description="HS256 secret; generated if unset")
    master_key: str | None = Field(default=None, description="base64 key wrapping customer keys")
    production: bool = False
    # Tokens of an identity provider (OIDC), beside the local HS256 ones (docs/deployment.md).
    oidc_jwks_url: str | None = Field(default=None, description="the provider's JWKS URL")
    oidc_issuer: str | None = Field(default=None, description="`iss` its tokens carry")
    oidc_audience: str | None = Field(default=None, description="`aud` meant for this API")
    oidc_role_claim: str = "role"
    oidc_algorithms: str = "RS256,ES256"
    oidc_jwks_cache_seconds: float = Field(default=300.0, gt=0)
    oidc_jwks_refresh_cooldown: float = Field(default=30.0, ge=0)
    cors_allowed_origins: str = Field(
        default="", description="comma-separated browser origins allowed to call the API"
    )
    max_token_ttl_days: int = Field(
        default=30, ge=1, le=3650, description="longest token lifetime minted or accepted"
    )
    base_currency: str = "CNY"
    rates_to_cny: dict[str, Decimal] = Field(default_factory=lambda: dict(DEFAULT_RATES_TO_CNY))
    snapshot_interval: int = Field(default=50, ge=1)
    log_format: Literal["json", "text"] = Field(
        default="json", description="the processes' log lines: JSON objects or plain text"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="INFO", description="the lowest level logged"
    )
    timezone: str = Field(
        default=DEFAULT_TIMEZONE,
        description="IANA zone of business dates: cohort months, funnel days, today",
    )

    @field_validator("master_key")
    @classmethod
    def _a_key(cls, value: str | None) -> str | None:
        if value is not None:
            parse_master_key(value)  # a ValueError saying what a key is
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_in_any_case(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

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
        from ops.errors import SettingError

        named = os.environ.get("CRM_CONFIG")
        toml_file = Path(named or "crm.toml")
        if named and not toml_file.is_file():  # a typo would run on the defaults
            raise SettingError("CRM_CONFIG", f"no file {toml_file}")
        try:
            from_file = TomlConfigSettingsSource(settings_cls, toml_file=toml_file)
        except tomllib.TOMLDecodeError as error:
            where = "CRM_CONFIG" if named else str(toml_file)
            raise SettingError(where, f"not TOML: {error}") from None
        _refuse_unknown_keys(from_file.toml_data, named or toml_file.name)
        return (init_settings, env_settings, from_file)

    @property
    def embedded_database(self) -> bool:
        return not self.database_url

    @property
    def embedded_kafka(self) -> bool:
        return not self.kafka_bootstrap

    @property
    def relay_session_url(self) -> str | None:
        """Where session state goes (the relay's leader lock and LISTEN, a full rebuild's
        lock): `CRM_DATABASE_DIRECT_URL`; None: `database_url` itself keeps sessions.

        Behind a transaction pooler a session advisory lock stays on a server connection
        that other clients then get: two relays could both lead, and a dead leader's lock
        would never be freed. So there the direct URL is required, not guessed.
        """
        from ops.errors import SettingError

        if self.database_direct_url:
            return self.database_direct_url
        if self.database_pooler == "transaction":
            raise SettingError(
                "CRM_DATABASE_DIRECT_URL",
                "required with CRM_DATABASE_POOLER=transaction by the relay (its leader lock "
                "and LISTEN) and a full rebuild (its lock): they need a session on the "
                "server itself, past the pooler [DIRECT_URL_REQUIRED]",
            )
        return None

    @property
    def kafka_security(self) -> KafkaSecurity:
        """The `CRM_KAFKA_*` security settings, checked (a `SettingError` names the rule)."""
        from ops.errors import SettingError

        try:
            security = KafkaSecurity(
                protocol=self.kafka_security_protocol,
                sasl_mechanism=self.kafka_sasl_mechanism,
                sasl_username=self.kafka_sasl_username,
                sasl_password=self.kafka_sasl_password,
                ssl_cafile=self.kafka_ssl_cafile,
                ssl_certfile=self.kafka_ssl_certfile,
                ssl_keyfile=self.kafka_ssl_keyfile,
                ssl_check_hostname=self.kafka_ssl_check_hostname,
            ).check()
        except KafkaConfigError as error:
            raise SettingError(error.setting, f"{error.message} [{error.code}]") from None
        if self.embedded_kafka and security.protocol != "PLAINTEXT":
            # The embedded broker speaks PLAINTEXT: the settings are for a cluster not named.
            raise SettingError(
                "CRM_KAFKA_BOOTSTRAP",
                f"required with CRM_KAFKA_SECURITY_PROTOCOL={security.protocol} "
                "(the embedded broker speaks PLAINTEXT) [KAFKA_SECURITY_WITHOUT_CLUSTER]",
            )
        return security

    @property
    def identity_provider(self) -> IdentityProvider | None:
        """The OIDC provider whose tokens the gateway accepts, when its JWKS URL is set."""
        from ops.errors import SettingError

        if not self.oidc_jwks_url:
            return None
        if not self.oidc_jwks_url.startswith(("https://", "http://")):
            raise SettingError("CRM_OIDC_JWKS_URL", "must be an https:// (or http://) URL")
        for name in ("oidc_issuer", "oidc_audience"):
            if not getattr(self, name):
                raise SettingError(env_name(name), "required with CRM_OIDC_JWKS_URL")
        algorithms = tuple(a.strip() for a in self.oidc_algorithms.split(",") if a.strip())
        unknown = sorted(set(algorithms) - set(PROVIDER_ALGORITHMS)) or not algorithms
        if unknown:
            raise SettingError(
                "CRM_OIDC_ALGORITHMS", f"choose from {', '.join(PROVIDER_ALGORITHMS)}"
            )
        return IdentityProvider(
            jwks_url=self.oidc_jwks_url,
            issuer=str(self.oidc_issuer),
            audience=str(self.oidc_audience),
            algorithms=algorithms,
            role_claim=self.oidc_role_claim,
            cache_seconds=self.oidc_jwks_cache_seconds,
            refresh_cooldown=self.oidc_jwks_refresh_cooldown,
        )

    @property
    def cors_origins(self) -> list[str]:
        """`cors_allowed_origins` as a list; each an origin (scheme://host[:port]) or `*`."""
        from ops.errors import SettingError

        origins = [o.strip() for o in self.cors_allowed_origins.split(",") if o.strip()]
        for origin in origins:
            if origin != "*" and not re.fullmatch(r"https?://[^/\s]+", origin):
                raise SettingError(
                    "CRM_CORS_ALLOWED_ORIGINS",
                    f"{origin!r} is not an origin such as https://app.example.com",
                )
        return origins

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


def _refuse_unknown_keys(read: dict[str, Any], where: str) -> None:
    """A key no setting has (a typo) is refused: ignored, it would leave that setting at
    its default, such as an embedded PostgreSQL where `database_url` was meant."""
    from difflib import get_close_matches

    from ops.errors import SettingError

    known = set(Settings.model_fields)
    for key in read:
        if key.lower() in known:
            continue
        close = get_close_matches(key.lower().removeprefix("crm_"), known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise SettingError(where, f"no setting is called {key!r}{hint} [UNKNOWN_SETTING]")


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment and `crm.toml`, with non-None overrides on top."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def env_name(field: str) -> str:
    """The environment variable that sets a field: `port` -> `CRM_PORT`."""
    return f"CRM_{field.upper()}"


SECRETS: Final = frozenset({"master_key", "jwt_secret"})
"""Settings whose refused value is not echoed back (a near-miss of a real secret)."""


def load_settings_checked(**overrides: Any) -> Settings:
    """`load_settings`, with a bad value reported as a `SettingError` naming the variable."""
    from pydantic import ValidationError

    from ops.errors import SettingError

    try:
        settings = load_settings(**overrides)
    except ValidationError as error:
        first = error.errors()[0]
        field = str(first["loc"][0]) if first.get("loc") else None
        setting = env_name(field) if field else "settings"
        got = "" if field in SECRETS else f" (got {first.get('input')!r})"
        raise SettingError(setting, f"{first['msg']}{got}") from None
    # Refuse now, in one line, a combination that cannot work (not at first use).
    settings.kafka_security  # noqa: B018
    settings.identity_provider  # noqa: B018
    settings.cors_origins  # noqa: B018
    return settings
