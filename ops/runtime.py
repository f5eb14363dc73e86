"""Connect an operator verb (`crm seed`, `crm projections rebuild`, `crm audit …`) to the
platform's servers: the configured external ones, or those of the running `crm up`
(found in `D/endpoints.json`)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ops.config import Settings
from ops.errors import SettingError
from ops.keys import master_key

if TYPE_CHECKING:
    from commands.application import CrmApplication


CONNECT_TIMEOUT = 2  # seconds per address: a wrong port or host is named within 5 s


def read_endpoints(settings: Settings, unset: str = "CRM_DATA_DIR") -> dict[str, Any]:
    """`D/endpoints.json` of the running `crm up`; a SettingError saying what is wrong.
    `unset`: the setting to name when there is no file (the one that would replace it)."""
    path = settings.endpoints_file
    try:
        text = path.read_text()
    except FileNotFoundError:
        where = (
            f"no running platform in {settings.data_dir} (no endpoints.json; start `crm up` first)"
        )
        raise SettingError(
            unset, where if unset == "CRM_DATA_DIR" else f"not set and {where}"
        ) from None
    except OSError as error:
        raise SettingError("CRM_DATA_DIR", f"cannot read {path}: {error.strerror}") from None
    try:
        data = json.loads(text)
    except ValueError as error:
        raise SettingError("CRM_DATA_DIR", f"{path} is not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise SettingError("CRM_DATA_DIR", f"{path} is not a JSON object")
    return data


def endpoint(settings: Settings, *keys: str, unset: str = "CRM_DATA_DIR") -> str:
    """One entry of endpoints.json, e.g. `endpoint(s, "kafka", "bootstrap")`."""
    value: Any = read_endpoints(settings, unset)
    for key in keys:
        if not isinstance(value, dict) or not isinstance(value.get(key), str | dict):
            raise SettingError(
                "CRM_DATA_DIR", f"{settings.endpoints_file} has no {'.'.join(keys)!r} entry"
            )
        value = value[key]
    return str(value)


def check_database_reachable(url: str, source: str) -> None:
    """Fail fast with one line, instead of a pool retrying for 30 s behind a traceback."""
    import psycopg

    from ops.stack import redact

    try:
        psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT).close()
    except (psycopg.Error, OSError) as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise SettingError(source, f"cannot connect to {redact(url)}: {reason.strip()}") from None


def database_url(settings: Settings, *, check: bool = True) -> str:
    """The configured database, else the running platform's; checked to answer."""
    if settings.database_url:
        url, source = settings.database_url, "CRM_DATABASE_URL"
    else:
        url, source = (
            endpoint(settings, "database", unset="CRM_DATABASE_URL"),
            f"{settings.endpoints_file} (database)",
        )
    if check:
        check_database_reachable(url, source)
    return url


def kafka_bootstrap(settings: Settings) -> str:
    if settings.kafka_bootstrap:
        return settings.kafka_bootstrap
    return endpoint(settings, "kafka", "bootstrap", unset="CRM_KAFKA_BOOTSTRAP")


@contextmanager
def open_application(
    settings: Settings, *, pool_size: int | None = None
) -> Iterator[CrmApplication]:
    """The event store application for a `crm` verb (built by the composition root over
    the URL and key resolved here), closed afterwards."""
    from bootstrap import store
    from commands.key_check import MasterKeyMismatch

    with contextlib.ExitStack() as stack:
        try:
            app = stack.enter_context(
                store(
                    database_url(settings),
                    master_key(settings),
                    kind="command",
                    snapshot_interval=settings.snapshot_interval,
                    pool_size=pool_size,
                )
            )
        except MasterKeyMismatch as error:
            raise SettingError("CRM_MASTER_KEY", str(error)) from None
        yield app
