"""`crm parked list|show|retry|drop`: the workers' parked messages (streams/parking.py).

A parked message is one a worker would not apply: not the relay's (bad signature), not
JSON, not a valid envelope, or refused by the sink. `retry` puts it through the same
checks and the worker's own sink again; `drop` deletes it once it has been dealt with.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    import psycopg

    from ops.config import Settings
    from streams.parking import Parked

parked_app = typer.Typer(
    help="Messages the workers parked instead of applying: list, show, retry, drop.",
    no_args_is_help=True,
)

DataDir = Annotated[
    str | None,
    typer.Option("--data-dir", "-d", help="Data folder of the running platform (CRM_DATA_DIR)."),
]
ParkedId = Annotated[int, typer.Argument(help="The parked message's id (see `crm parked list`).")]
SHOW_LIMIT = 4000  # characters of a value `show` prints; the rest is counted


def register(app: typer.Typer) -> None:
    app.add_typer(parked_app, name="parked")


@contextmanager
def _connection(settings: Settings) -> Iterator[psycopg.Connection[Any]]:
    import psycopg

    from ops.runtime import database_url
    from streams.parking import create_parking

    with psycopg.connect(database_url(settings), autocommit=True) as conn:
        create_parking(conn)  # an older database: an empty lot rather than an error
        yield conn


def _find(conn: psycopg.Connection[Any], parked_id: int) -> Parked:
    from ops.errors import SettingError
    from streams.parking import get_parked

    found = get_parked(conn, parked_id)
    if found is None:
        raise SettingError("ID", f"no parked message with id {parked_id} (see `crm parked list`)")
    return found


def printable(data: bytes | None) -> str:
    """Bytes as text a terminal cannot be fooled by: control characters and invalid UTF-8
    come out as escapes, never raw."""
    if data is None:
        return "(none)"
    text = data.decode("utf-8", errors="backslashreplace")
    safe = "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)
    if len(safe) > SHOW_LIMIT:
        return f"{safe[:SHOW_LIMIT]}… ({len(data)} bytes in all)"
    return safe


@parked_app.command("list")
def list_parked(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON list, for scripts.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Every parked message: id, worker group, topic, partition, offset, reason."""
    from ops.cli import console, setting_errors, settings_from
    from streams.parking import list_parked as parked_rows

    with setting_errors(), _connection(settings_from(data_dir=data_dir)) as conn:
        rows = [p.summary() for p in parked_rows(conn)]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    if not rows:
        typer.echo("no parked messages")
        return
    for row in rows:
        console.print(
            f"{row['id']}  {row['group']}  {row['topic']}[{row['partition']}]@{row['offset']}"
            f"  {row['parked_at']}  {printable(row['reason'].encode())}",
            markup=False,
        )


@parked_app.command()
def show(parked_id: ParkedId, data_dir: DataDir = None) -> None:
    """One parked message: why, where, its headers and its bytes (escaped, never raw)."""
    from ops.cli import console, setting_errors, settings_from

    with setting_errors(), _connection(settings_from(data_dir=data_dir)) as conn:
        found = _find(conn, parked_id)
    message = found.message
    lines = [
        *(f"{k}: {v}" for k, v in found.summary().items()),
        *(f"header {printable(n.encode())}: {printable(v)}" for n, v in message.headers),
        f"key: {printable(message.key)}",
        f"value ({len(message.value)} bytes): {printable(message.value)}",
    ]
    for line in lines:
        console.print(line, markup=False)


@parked_app.command()
def retry(parked_id: ParkedId, data_dir: DataDir = None) -> None:
    """Apply a parked message again through the same checks and its worker's sink.

    Removed when applied; otherwise it stays parked with the new reason (exit 1).
    """
    from ops.cli import setting_errors, settings_from
    from ops.errors import SettingError
    from streams.parking import drop_parked, repark
    from streams.worker_main import worker_of_group

    with setting_errors():
        settings = settings_from(data_dir=data_dir)
        with _connection(settings) as conn:
            found = _find(conn, parked_id)
            worker = worker_of_group(found.group, settings.kafka_group_prefix)
            if worker is None:
                raise SettingError("ID", f"parked by {found.group!r}, which no worker is")
            problem = _reapply(settings, worker, found)
            if problem is None:
                drop_parked(conn, parked_id)
            else:
                repark(conn, parked_id, problem)
    if problem is not None:
        typer.echo(f"still parked: {problem}")
        raise typer.Exit(1)
    typer.echo(f"applied by {worker}; removed from the parking lot")


def _reapply(settings: Settings, worker: str, found: Parked) -> str | None:
    from ops.keys import master_key
    from ops.runtime import database_url, open_application
    from streams.relay_main import StreamConfig
    from streams.worker_main import opened_intake

    config = StreamConfig(
        database_url=database_url(settings),
        kafka_bootstrap=settings.kafka_bootstrap or "",
        topic=found.message.topic,
        data_dir=settings.data_dir,
        master_key=master_key(settings),
        kafka_security=settings.kafka_security,
        group_prefix=settings.kafka_group_prefix,
    )
    with (
        open_application(settings, pool_size=2) as app,
        opened_intake(worker, app, config) as (
            intake,
            _,
        ),
    ):
        return intake.retry(found.message)


@parked_app.command()
def drop(parked_id: ParkedId, data_dir: DataDir = None) -> None:
    """Delete a parked message for good (it is not applied)."""
    from ops.cli import setting_errors, settings_from
    from streams.parking import drop_parked

    with setting_errors(), _connection(settings_from(data_dir=data_dir)) as conn:
        _find(conn, parked_id)
        drop_parked(conn, parked_id)
    typer.echo(f"dropped parked message {parked_id}")
