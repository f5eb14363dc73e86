"""The embedded PostgreSQL trusts nobody: passwords (scram-sha-256), and the platform's
role is not a superuser. A cluster from before (pg_hba `trust`) is locked down on start."""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from commands.application import CrmApplication
from commands.crypto import generate_master_key
from commands.messages import CommandContext, RecordContactTouch, RegisterCustomer
from commands.service import CommandService
from ops.embedded.pg_security import APP_ROLE
from ops.embedded.postgres import POSTGRES_BIN_PATH, EmbeddedPostgres, stop_postgres
from ops.schema import prepare_database
from projections.reader_rights import reader_rights
from streams.rebuild import rebuild
from tests.integration.support.gateway import ReadModelSync
from tests.integration.support.servers import open_folder
from tests.integration.support.waiting import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def folder() -> Iterator[Path]:
    with open_folder() as path:
        yield path


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedPostgres]:
    with open_folder() as folder:
        pg = EmbeddedPostgres(folder / "pgdata")
        process = pg.start()
        yield pg
        stop_postgres(process)


def refused(url: str) -> str:
    with pytest.raises(psycopg.OperationalError) as caught:
        psycopg.connect(url, connect_timeout=3).close()
    return str(caught.value)


def test_the_password_file_is_private(server: EmbeddedPostgres) -> None:
    assert stat.S_IMODE(server.password_file.stat().st_mode) == 0o600


@pytest.mark.parametrize("password", ["", ":wrong"])
def test_a_client_without_the_password_is_refused(server: EmbeddedPostgres, password: str) -> None:
    for user in ("postgres", APP_ROLE):
        url = f"postgresql://{user}{password}@{server.host}:{server.port}/crm"
        message = refused(url)
        assert "password" in message


def test_the_app_role_is_no_superuser(server: EmbeddedPostgres) -> None:
    with psycopg.connect(server.url, autocommit=True) as conn:
        assert conn.execute("SHOW is_superuser").fetchone() == ("off",)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT rolpassword FROM pg_authid")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE ROLE intruder SUPERUSER LOGIN")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE DATABASE other")


def test_the_app_role_owns_its_tables_and_the_reader_may_only_select(
    server: EmbeddedPostgres,
) -> None:
    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute("CREATE TABLE customers_seen (id serial PRIMARY KEY, company text)")
        conn.execute("INSERT INTO customers_seen (company) VALUES ('Acme')")
    assert reads(server.reader_url, "SELECT company FROM customers_seen") is None, "closed"
    with psycopg.connect(server.url, autocommit=True) as conn:
        reader_rights(conn)
    with psycopg.connect(server.reader_url, autocommit=True) as conn:
        assert conn.execute("SELECT company FROM customers_seen").fetchall() == [("Acme",)]
        for statement in (
            "INSERT INTO customers_seen (company) VALUES ('Mine')",
            "DELETE FROM customers_seen",
            "CREATE TABLE mine (n int)",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


def reads(url: str, query: str) -> list[tuple[object, ...]] | None:
    """The rows, or None when the role may not read them."""
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            return conn.execute(query).fetchall()
        except psycopg.errors.InsufficientPrivilege:
            return None


def test_the_reader_sees_no_personal_data_before_or_after_a_rebuild(
    server: EmbeddedPostgres,
) -> None:
    """The analysts' role reads what an analyst may see over the API: no name, email,
    phone, address or free text, no keys, no sealed payloads; a rebuild's swapped-in
    tables keep exactly those rights."""
    key = generate_master_key()
    prepare_database(server.url, key)
    app = CrmApplication(server.url, master_key=key, pool_size=1)
    try:
        service, ctx = CommandService(app), CommandContext("ops")
        customer = service.handle(
            RegisterCustomer(name="王秘密", email="secret@example.com", company="Acme"), ctx
        ).customer_id
        service.handle(
            RecordContactTouch(customer_id=customer, channel="PHONE", summary="私事"), ctx
        )
        sync = ReadModelSync(app, server.url)
        sync()
        sync.close()
        for when in ("served", "after a rebuild"):
            if when == "after a rebuild":
                rebuild(app, server.url, master_key=key, workers=1)
            reader = server.reader_url
            assert reads(reader, "SELECT company, tier FROM rm_customers") == [("Acme", "BRONZE")]
            assert reads(reader, "SELECT channel FROM rm_touches") == [("PHONE",)], when
            for closed in (
                "SELECT name FROM rm_customers",
                "SELECT email FROM rm_customers",
                "SELECT phone_digits FROM rm_customers",
                "SELECT * FROM rm_customers",
                "SELECT summary FROM rm_touches",
                "SELECT * FROM crm_customer_keys",
                "SELECT * FROM crm_event_envelopes",
                "SELECT * FROM stored_events",
                "SELECT * FROM crm_access_log",
            ):
                assert reads(reader, closed) is None, (when, closed)
    finally:
        app.close()


# -- a cluster made by an older version ------------------------------------------------------


def make_trust_cluster(pg: EmbeddedPostgres) -> None:
    """What the older version left: initdb --auth=trust, app tables owned by postgres."""
    pg.pgdata.parent.mkdir(parents=True, exist_ok=True)
    pg.pgdata.mkdir(mode=0o700)
    if pg.user:
        entry = pwd.getpwnam(pg.user)
        os.chown(pg.pgdata, entry.pw_uid, entry.pw_gid)
    subprocess.run(
        [str(POSTGRES_BIN_PATH / "initdb"), "-D", str(pg.pgdata), "--auth=trust", "-U", "postgres"],
        user=pg.user,
        check=True,
        capture_output=True,
    )
    process = subprocess.Popen(
        pg.command(), user=pg.user, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    trusted = f"postgresql://postgres@{pg.host}:{pg.port}"

    def answers() -> bool:
        try:
            psycopg.connect(f"{trusted}/postgres", connect_timeout=2).close()
        except psycopg.OperationalError:
            return False
        return True

    try:
        wait_for(answers, timeout=30)
        with psycopg.connect(f"{trusted}/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE crm")
        with psycopg.connect(f"{trusted}/crm", autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (id bigserial PRIMARY KEY, v text)")
            conn.execute("INSERT INTO kept (v) VALUES ('old')")
            conn.execute("CREATE FUNCTION answer() RETURNS int LANGUAGE sql AS 'SELECT 41'")
    finally:
        stop_postgres(process)


def test_an_old_trust_cluster_is_locked_down_in_place(folder: Path) -> None:
    old = EmbeddedPostgres(folder / "pgdata")
    make_trust_cluster(old)

    pg = EmbeddedPostgres(folder / "pgdata", port=old.port)
    process = pg.start()
    try:
        assert "password" in refused(f"postgresql://postgres@{pg.host}:{pg.port}/crm")
        assert "scram-sha-256" in (pg.pgdata / "pg_hba.conf").read_text()
        assert "trust" not in (pg.pgdata / "pg_hba.conf").read_text()
        with psycopg.connect(pg.url, autocommit=True) as conn:
            conn.execute("INSERT INTO kept (v) VALUES ('new')")
            conn.execute(
                "CREATE OR REPLACE FUNCTION answer() RETURNS int LANGUAGE sql AS 'SELECT 42'"
            )
            assert conn.execute("SELECT answer()").fetchone() == (42,)
        with psycopg.connect(pg.reader_url) as conn:
            assert conn.execute("SELECT v FROM kept ORDER BY id").fetchall() == [("old",), ("new",)]
    finally:
        stop_postgres(process)
    assert stat.S_IMODE(pg.password_file.stat().st_mode) == 0o600


def test_a_lost_password_file_gets_new_passwords_on_start(folder: Path) -> None:
    first = EmbeddedPostgres(folder / "pgdata")
    stop_postgres(first.start())
    old_url = first.url
    first.password_file.unlink()

    pg = EmbeddedPostgres(folder / "pgdata", port=first.port)
    process = pg.start()
    try:
        assert pg.url != old_url
        assert "password" in refused(old_url)
        with psycopg.connect(pg.url) as conn:
            assert conn.execute("SELECT current_user").fetchone() == (APP_ROLE,)
    finally:
        stop_postgres(process)
