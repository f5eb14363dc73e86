"""Who may connect to the embedded PostgreSQL, and as what.

Nothing is trusted: every connection needs a password (scram-sha-256), including local
ones, so another account on the host cannot walk in as superuser. Three roles:

- `postgres`, the superuser: only `crm up` itself uses it, to create the other roles;
- `crm_app`, what the gateway, relay, workers and operator verbs connect as: LOGIN, not a
  superuser, cannot create roles or databases; it owns the `crm` database and its tables;
- `crm_reader`, for analysts: SELECT on the tables of `crm`, nothing else.

The passwords are generated once into `D/postgres.passwords` (JSON, mode 0600, created
with O_EXCL so two starts agree on one set). A cluster made before this (pg_hba `trust`),
or one whose password file is gone, is put right on start: the superuser's password is
set in single-user mode (no connection needed) and pg_hba.conf is rewritten.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from projections.reader_rights import READER_ROLE, reader_rights

SUPERUSER = "postgres"
APP_ROLE = "crm_app"
PASSWORD_FILE = "postgres.passwords"

HBA_CONF = """\
# Written by crm (ops/embedded/pg_security.py): every connection needs a password.
# TYPE  DATABASE  USER  ADDRESS       METHOD
local   all       all                 scram-sha-256
host    all       all   127.0.0.1/32  scram-sha-256
host    all       all   ::1/128       scram-sha-256
"""


class PasswordFileError(RuntimeError):
    """The password file exists but cannot be read as the three passwords."""


@dataclass(frozen=True)
class Passwords:
    postgres: str
    crm_app: str
    crm_reader: str

    @classmethod
    def generate(cls) -> Passwords:
        # URL-safe, so they go into a postgresql:// URL without quoting.
        return cls(*(secrets.token_urlsafe(24) for _ in range(3)))

    def for_role(self, role: str) -> str:
        return {SUPERUSER: self.postgres, APP_ROLE: self.crm_app, READER_ROLE: self.crm_reader}[
            role
        ]


def load_or_create_passwords(path: Path) -> tuple[Passwords, bool]:
    """(the passwords in `path`, whether this call created the file)."""
    fresh = Passwords.generate()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_passwords(path), False
    with os.fdopen(fd, "w") as handle:
        json.dump(
            {SUPERUSER: fresh.postgres, APP_ROLE: fresh.crm_app, READER_ROLE: fresh.crm_reader},
            handle,
        )
    return fresh, True


def _read_passwords(path: Path) -> Passwords:
    try:
        data = json.loads(path.read_text())
        return Passwords(str(data[SUPERUSER]), str(data[APP_ROLE]), str(data[READER_ROLE]))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise PasswordFileError(
            f"{path} is not a readable password file ({error}); "
            "delete it and start again to generate new passwords"
        ) from None


def hba_is_current(pgdata: Path) -> bool:
    try:
        return (pgdata / "pg_hba.conf").read_text() == HBA_CONF
    except OSError:
        return False


def write_hba(pgdata: Path) -> None:
    """Rewrite pg_hba.conf in place (truncating keeps the server user as its owner)."""
    with (pgdata / "pg_hba.conf").open("w") as handle:
        handle.write(HBA_CONF)


def set_superuser_password_offline(
    postgres_bin: Path, pgdata: Path, password: str, user: str | None
) -> None:
    """ALTER ROLE in single-user mode: works on a cluster nobody can log in to yet."""
    statement = f"ALTER ROLE {SUPERUSER} WITH PASSWORD '{password}';\n"
    result = subprocess.run(
        [
            str(postgres_bin),
            "--single",
            "-D",
            str(pgdata),
            "-c",
            "log_min_messages=warning",
            "postgres",
        ],
        input=statement,
        user=user,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0 or "ERROR" in result.stdout + result.stderr:
        raise RuntimeError(f"cannot set the superuser password: {result.stderr.strip()}")


# -- roles and rights, over a superuser connection ---------------------------------------------


def _ensure_role(conn: psycopg.Connection[object], role: str, password: str) -> None:
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    conn.execute(
        sql.SQL(
            "{} ROLE {} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
            "NOBYPASSRLS PASSWORD {}"
        ).format(
            sql.SQL("ALTER" if exists else "CREATE"), sql.Identifier(role), sql.Literal(password)
        )
    )


def ensure_roles_and_database(
    conn: psycopg.Connection[object], database: str, passwords: Passwords
) -> None:
    """Both roles (passwords as in the file), and `database` owned by the app role."""
    for role in (APP_ROLE, READER_ROLE):
        _ensure_role(conn, role, passwords.for_role(role))
    name = sql.Identifier(database)
    exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
    if exists:
        conn.execute(
            sql.SQL("ALTER DATABASE {} OWNER TO {}").format(name, sql.Identifier(APP_ROLE))
        )
    else:
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(name, sql.Identifier(APP_ROLE)))
    conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(name))
    conn.execute(
        sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(name, sql.Identifier(READER_ROLE))
    )


# Objects a trust-era platform created as the superuser: the app role must own them to
# keep altering them (CREATE OR REPLACE FUNCTION, ALTER TABLE ... ADD COLUMN).
_HAND_OVER = """
DO $$
DECLARE item record;
BEGIN
  FOR item IN
    SELECT format('ALTER %s %s OWNER TO crm_app',
                  CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                                 WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END,
                  c.oid::regclass) AS statement
    FROM pg_class c
    WHERE c.relnamespace = 'public'::regnamespace
      AND c.relowner = 'postgres'::regrole
      AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
      -- a sequence that belongs to a column moves with its table
      AND NOT (c.relkind = 'S' AND EXISTS (
            SELECT 1 FROM pg_depend d
            WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i')))
    ORDER BY c.relkind = 'S'
  LOOP
    EXECUTE item.statement;
  END LOOP;
  FOR item IN
    SELECT format('ALTER ROUTINE %s OWNER TO crm_app', p.oid::regprocedure) AS statement
    FROM pg_proc p
    WHERE p.pronamespace = 'public'::regnamespace AND p.proowner = 'postgres'::regrole
  LOOP
    EXECUTE item.statement;
  END LOOP;
END $$
"""


def grant_rights(conn: psycopg.Connection[Any]) -> None:
    """Inside the app database: the app role owns everything; the reader may SELECT what
    holds no personal data (`projections.reader_rights`), the schema step granting the
    same on the tables it creates later."""
    conn.execute(_HAND_OVER)
    reader = sql.Identifier(READER_ROLE)
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(reader))
    # Older versions made every new table readable whole, personal columns included.
    conn.execute(
        sql.SQL(
            "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public REVOKE SELECT ON TABLES FROM {}"
        ).format(sql.Identifier(APP_ROLE), reader)
    )
    reader_rights(conn)
