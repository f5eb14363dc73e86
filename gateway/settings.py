"""What the gateway reads from the platform settings (in practice `ops.config.Settings`,
passed in by `crm gateway`; the gateway does not import `ops`)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from gateway.auth import IdentityProvider
from streams.kafka_clients import KafkaSecurity


class GatewaySettings(Protocol):
    """What the gateway reads from the platform settings."""

    @property
    def data_dir(self) -> Path: ...

    @property
    def database_url(self) -> str | None: ...

    @property
    def kafka_bootstrap(self) -> str | None: ...

    @property
    def kafka_topic(self) -> str: ...

    @property
    def jwt_secret(self) -> str | None: ...

    @property
    def kafka_security(self) -> KafkaSecurity: ...

    @property
    def identity_provider(self) -> IdentityProvider | None: ...

    @property
    def cors_origins(self) -> list[str]: ...

    @property
    def master_key(self) -> str | None: ...

    @property
    def production(self) -> bool: ...
