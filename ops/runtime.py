"""Connect an operator verb (`crm seed`, `crm projections rebuild`, `crm audit …`) to the
platform's servers: the configured external ones, or those of the running `crm up`
(found in `D/endpoints.json`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ops.config import Settings
from ops.errors import SettingError
from ops.keys import master_key

if TYPE_CHECKING:
    from commands.application import CrmApplication


def database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    try:
        endpoints = json.loads(settings.endpoints_file.read_text())
    except (OSError, ValueError):
        raise SettingError(
            "CRM_DATABASE_URL",
            f"not set and no running platform in {settings.data_dir} (start `crm up` first)",
        ) from None
    return str(endpoints["database"])


def kafka_bootstrap(settings: Settings) -> str:
    if settings.kafka_bootstrap:
        return settings.kafka_bootstrap
    try:
        endpoints = json.loads(settings.endpoints_file.read_text())
    except (OSError, ValueError):
        raise SettingError(
            "CRM_KAFKA_BOOTSTRAP",
            f"not set and no running platform in {settings.data_dir} (start `crm up` first)",
        ) from None
    return str(endpoints["kafka"]["bootstrap"])


@contextmanager
def open_application(settings: Settings, *, pool_size: int = 4) -> Iterator[CrmApplication]:
    """The event store application for this platform, closed afterwards."""
    from commands.application import CrmApplication

    app = CrmApplication(
        database_url(settings),
        master_key=master_key(settings),
        snapshot_interval=settings.snapshot_interval,
        pool_size=pool_size,
    )
    try:
        yield app
    finally:
        app.close()
