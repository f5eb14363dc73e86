"""Which event store a one-off command (`crm seed`) writes to.

Three cases, in order:

1. `CRM_DATABASE_URL` is set (also how `crm demo` runs `crm seed`): use it.
2. A `crm up` holds the data folder: use the database it announced in `endpoints.json`.
3. Otherwise start the data folder's embedded PostgreSQL for the duration of the
   command (holding the folder's lock, so a `crm up` cannot start on it meanwhile).

The master key comes from `ops.keys.master_key`, the one the gateway and relay use, so
what the seed writes is readable by the rest of the platform.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ops.config import Settings
from ops.errors import SettingError
from ops.lock import DataDirBusy, DataDirLock

Log = Callable[[str], None]


def announced_database(settings: Settings) -> str:
    """The database of the `crm up` that holds the data folder."""
    try:
        endpoints = json.loads(settings.endpoints_file.read_text())
        return str(endpoints["database"])
    except (OSError, ValueError, KeyError):
        raise SettingError(
            "CRM_DATA_DIR",
            f"{settings.data_dir} is in use by `crm up`, which has not announced its "
            "database yet; wait until it is healthy or set CRM_DATABASE_URL",
        ) from None


@contextmanager
def event_store_url(settings: Settings, log: Log) -> Iterator[str]:
    """The database URL to write to, with an embedded server running while needed."""
    if settings.database_url:
        yield settings.database_url
        return
    lock = DataDirLock(settings.data_dir)
    try:
        lock.acquire()
    except DataDirBusy:
        yield announced_database(settings)
        return
    try:
        from ops.embedded.postgres import EmbeddedPostgres, stop_postgres

        server = EmbeddedPostgres(settings.data_dir / "pgdata")
        log(f"starting the embedded PostgreSQL in {server.pgdata}")
        process = server.start()
        try:
            yield server.url
        finally:
            stop_postgres(process)
    finally:
        lock.release()
