"""One master key per database: every process proves it holds the database's own.

Customer keys are wrapped under the master key (`commands.crypto.MasterKey`). A process
started with another one (a host given its own `CRM_MASTER_KEY`, or none, so it made
one) would seal new customers under a key the others cannot open, and fail to open
theirs: the workers park every message while every process says it is fine. So the
database keeps a known text sealed under its master key (``crm_master_key_check``, one
row, written by the first process that starts); a process whose key does not open it is
refused at start. On a database from before this check, the first process writes the
row only if its key opens a stored customer key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final
from uuid import UUID

from psycopg import sql

from commands.crypto import UnreadableCiphertext

if TYPE_CHECKING:
    from commands.application import CrmApplication
    from commands.crypto import MasterKey

KEY_CHECK: Final = "crm_master_key_check"
_CHECKED: Final = b"crm master key check v1"
_SUBJECT: Final = UUID(int=0)


class MasterKeyMismatch(RuntimeError):
    """This process's master key is not the database's."""


def key_check_statements(schema: str) -> list[sql.Composed]:
    table = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(KEY_CHECK))
    return [
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (id smallint PRIMARY KEY CHECK (id = 1), "
            "sealed bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
        ).format(table)
    ]


def verify_master_key(app: CrmApplication) -> None:
    """Raise `MasterKeyMismatch` unless this process's master key is the database's."""
    from commands.recorder import CUSTOMER_KEYS  # the recorder creates this module's table

    datastore = app.crm_recorder.datastore
    table = sql.SQL("{}.{}").format(sql.Identifier(datastore.schema), sql.Identifier(KEY_CHECK))
    keys = sql.SQL("{}.{}").format(sql.Identifier(datastore.schema), sql.Identifier(CUSTOMER_KEYS))
    with datastore.transaction(commit=True) as curs:
        curs.execute(sql.SQL("SELECT sealed FROM {} WHERE id = 1").format(table))
        row = curs.fetchone()
        if row is None:
            curs.execute(sql.SQL("SELECT customer_id, wrapped_key FROM {} LIMIT 1").format(keys))
            stored = curs.fetchone()
            if stored is not None:
                _opens(app, UUID(str(stored["customer_id"])), bytes(stored["wrapped_key"]))
            curs.execute(
                sql.SQL("INSERT INTO {} (id, sealed) VALUES (1, %s) ON CONFLICT DO NOTHING").format(
                    table
                ),
                [app.master_key.wrap(_SUBJECT, _CHECKED)],
            )
            curs.execute(sql.SQL("SELECT sealed FROM {} WHERE id = 1").format(table))
            row = curs.fetchone()
    assert row is not None
    _opens(app, _SUBJECT, bytes(row["sealed"]))


def verify_sealed_check(master_key: MasterKey, sealed: bytes | None) -> None:
    """The same proof for a process without the store application (the projections and
    analytics workers hold only the key ring, `commands.sealed_reader`): `sealed` is the
    check row's value, None while no process has written it yet."""
    if sealed is not None:
        _unwrap(master_key, _SUBJECT, sealed)


def _opens(app: CrmApplication, subject: UUID, sealed: bytes) -> None:
    _unwrap(app.master_key, subject, sealed)


def _unwrap(master_key: MasterKey, subject: UUID, sealed: bytes) -> None:
    try:
        master_key.unwrap(subject, sealed)
    except UnreadableCiphertext:
        raise MasterKeyMismatch(
            "the master key does not open this database's keys: every process of a "
            "deployment must use the one CRM_MASTER_KEY the database was started with "
            "(docs/deployment.md)"
        ) from None
