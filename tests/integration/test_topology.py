"""Issue 18, "Measured": the deployment's topology on this machine. `crm up` with 2 gateways,
2 relays (one standby) and 2 workers per projection group, on the external PostgreSQL at
127.0.0.1:5432 reached THROUGH a real PgBouncer in transaction pooling (the relays' leader
lock and LISTEN on `CRM_DATABASE_DIRECT_URL`), and the embedded broker; and the same run on
direct connections. Under load (clients
registering customers over GraphQL), kill -9 one gateway, the leading relay and one
projections worker: every accepted customer is in the read models exactly once, their count
equals the store's, and the audit chain verifies.

The external server is not optional here: CI runs on this machine, so when it does not
answer the test fails, naming it, rather than skipping."""

from __future__ import annotations

import ast
import contextlib
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import psutil
import psycopg
import pytest
from eventsourcing.utils import get_topic
from psycopg import sql
from psycopg.conninfo import make_conninfo

from chaos.client import REGISTER
from chaos.faults import fresh_write_visible
from chaos.load import Ledger, Load
from chaos.platform import api_factory
from chaos.running import PlatformProcess, running_platform, scratch_data_dir
from events import CustomerRegistered
from ops.crm_process import clean_env, crm_argv
from tests.integration.support.pgbouncer import Bouncer, running_pgbouncer

pytestmark = pytest.mark.integration

EXTERNAL = "host=127.0.0.1 port=5432 dbname=test user=postgres connect_timeout=5"
PASSWORD = "topology"  # PgBouncer checks it (scram); the server trusts the bouncer's login
WRITERS = 3
MIN_CUSTOMERS = 21  # accepted registrations, the kills among them, before the load stops


@dataclass(frozen=True)
class Database:
    direct: str  # the server itself: the relays' session (CRM_DATABASE_DIRECT_URL)
    bouncer: Bouncer

    @property
    def pooled(self) -> str:
        return self.bouncer.url(self.direct, application_name="crm-topology")


def admin() -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(EXTERNAL, autocommit=True)
    except psycopg.OperationalError as error:
        pytest.fail(  # not a skip: CI runs on this machine, where the server must answer
            f"the external PostgreSQL at 127.0.0.1:5432 (trust, db `test`) is not reachable: "
            f"{error}",
            pytrace=False,
        )


@contextlib.contextmanager
def fresh_database() -> Iterator[Database]:
    """A new role and database on the external server, behind a new PgBouncer; both
    dropped afterwards (other backends, e.g. a killed process's, terminated first)."""
    name = f"crm_topology_{uuid.uuid4().hex[:10]}"
    with admin() as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(name), sql.Literal(PASSWORD)
            )
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(name)
            )
        )
    direct = make_conninfo(
        "", host="127.0.0.1", port="5432", dbname=name, user=name, password=PASSWORD
    )
    try:
        with running_pgbouncer(direct) as bouncer:
            yield Database(direct, bouncer)
    finally:
        with admin() as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


def topology_env(database: Database, pooled: bool = True) -> dict[str, str]:
    through = {"CRM_DATABASE_URL": database.pooled, "CRM_DATABASE_POOLER": "transaction"}
    return {
        **(through if pooled else {"CRM_DATABASE_URL": database.direct}),
        "CRM_DATABASE_DIRECT_URL": database.direct,
        "CRM_GATEWAYS": "2",
        "CRM_RELAYS": "2",
        "CRM_WORKERS": "2",
        "CRM_KAFKA_PARTITIONS": "4",
    }


def leading_relay(platform: PlatformProcess) -> str:
    """The relay replica whose heartbeat says it leads (the other says "standby")."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        components = platform.health()[1].get("components", {})
        leaders = [
            name
            for name in ("relay", "relay-2")
            if str(components.get(name, {}).get("detail", "")).startswith("leading")
        ]
        standby = [
            name
            for name in ("relay", "relay-2")
            if "standby" in str(components.get(name, {}).get("detail", ""))
        ]
        if len(leaders) == 1 and len(standby) == 1:
            return leaders[0]
        time.sleep(0.3)
    raise AssertionError(f"no single leading relay: {platform.health()}")


def wait_for_customers(ledger: Ledger, count: int, deadline: float) -> None:
    while len(ledger.customers) < count and time.monotonic() < deadline:
        time.sleep(0.2)


def read_model_customers(direct: str) -> Counter[str]:
    with psycopg.connect(direct) as conn:
        rows = conn.execute("SELECT id FROM rm_customers").fetchall()
    return Counter(str(row[0]) for row in rows)


def stored_registrations(direct: str) -> int:
    with psycopg.connect(direct) as conn:
        row = conn.execute(
            "SELECT count(*) FROM stored_events WHERE topic = %s", (get_topic(CustomerRegistered),)
        ).fetchone()
    return int(row[0]) if row else 0


def settled_customers(direct: str, expected: int, timeout: float) -> Counter[str]:
    deadline = time.monotonic() + timeout
    while True:
        found = read_model_customers(direct)
        if sum(found.values()) >= expected or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def audit_verify(
    platform: PlatformProcess, database: Database, pooled: bool
) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in topology_env(database, pooled).items()
        if key.startswith("CRM_DATABASE")
    }
    return subprocess.run(
        crm_argv("audit", "verify", "--data-dir", str(platform.data_dir)),
        env=clean_env(env),
        capture_output=True,
        text=True,
        timeout=300,
    )


def diagnosis(platform: PlatformProcess, direct: str, error: BaseException) -> str:
    """What the failed write answers now, and the end of `crm up`'s output."""
    api = api_factory(platform)()
    variables = ast.literal_eval(str(error).split(": ", 1)[1]) if ": {" in str(error) else {}
    try:
        answer = api.http.post(api.url, json={"query": REGISTER, "variables": variables}).text
    except httpx.HTTPError as error:
        answer = repr(error)
    finally:
        api.close()
    with admin() as conn:
        sessions = conn.execute(
            "SELECT pid, application_name, state, wait_event_type, wait_event, "
            "now() - xact_start, left(query, 80) FROM pg_stat_activity "
            "WHERE datname = current_database() OR datname LIKE 'crm_topology_%%'"
        ).fetchall()
    listed = "\n".join(map(str, sessions))
    with psycopg.connect(direct) as conn:
        listed += "\nstore vs read model: " + str(
            conn.execute(
                "SELECT (SELECT max(notification_id) FROM stored_events), "
                "(SELECT count(*) FROM rm_customers), (SELECT array_agg(s.notification_id) "
                "FROM stored_events s WHERE s.topic = %s AND s.originator_id NOT IN "
                "(SELECT id FROM rm_customers))",
                (get_topic(CustomerRegistered),),
            ).fetchone()
        )
    return f"a query answers: {answer}\nsessions:\n{listed}\n{platform.output()[-6000:]}"


def bouncer_state(database: Database) -> str:
    """PgBouncer's pools and clients (a pool exhausted by idle-in-transaction clients shows
    as `cl_waiting`), and the end of its log."""
    shown = []
    for what in ("POOLS", "CLIENTS", "SERVERS"):
        try:
            rows = database.bouncer.show(database.direct, what)
        except psycopg.Error as error:
            rows = [(repr(error),)]
        shown.append(f"SHOW {what}:\n" + "\n".join(map(str, rows)))
    return "pgbouncer:\n" + "\n".join(shown) + "\n" + database.bouncer.log()[-3000:]


@pytest.mark.parametrize("pooled", [True, False], ids=["pgbouncer", "direct"])
def test_the_topology_loses_and_duplicates_nothing_when_one_of_each_is_killed(
    pooled: bool,
) -> None:
    with (
        fresh_database() as database,
        scratch_data_dir("crm-topology-") as data_dir,
        running_platform(data_dir, env=topology_env(database, pooled)) as platform,
    ):
        platform.wait_healthy(timeout=180)
        leader = leading_relay(platform)
        make_api = api_factory(platform)
        ledger = Ledger()
        load = Load(make_api, ledger, customers=10**6)  # registrations until stopped
        load.start(WRITERS)
        probe = make_api()
        try:
            time.sleep(3)
            victims = {
                "gateway": platform.pid("gateway"),
                leader: platform.pid(leader),
                "worker-projections": platform.pid("worker-projections"),
            }
            for pid in victims.values():
                psutil.Process(pid).kill()  # kill -9
            fresh_write_visible(probe, ledger, time.monotonic() + 90)
            time.sleep(3)
            # Enough writes to mean something, however slow a shared machine makes each one
            # (a count, not a rate: the load runs until it is reached, or for 3 minutes).
            wait_for_customers(ledger, MIN_CUSTOMERS, time.monotonic() + 180)
        finally:
            probe.close()
            load.stop()
        if load.errors:
            raise AssertionError(
                f"{load.errors[:1]}\n{diagnosis(platform, database.direct, load.errors[0])}"
                f"\n{bouncer_state(database) if pooled else ''}"
            )
        accepted = list(ledger.customers)
        assert len(accepted) >= MIN_CUSTOMERS, len(accepted)
        # the standby took over: the other relay now leads
        assert leading_relay(platform) != leader
        for name, pid in victims.items():
            assert platform.wait_replaced(name, pid, timeout=60) != pid

        found = settled_customers(database.direct, len(accepted), timeout=120)
        assert set(accepted) <= set(found), f"lost {len(set(accepted) - set(found))}"
        assert max(found.values()) == 1, "a customer is in the read model twice"
        assert sum(found.values()) == stored_registrations(database.direct)
        assert len(set(accepted)) == len(accepted)
        audit = audit_verify(platform, database, pooled)
        assert audit.returncode == 0, audit.stdout[-2000:] + audit.stderr[-2000:]
        log = database.bouncer.log() if pooled else ""
    assert "prepared statement" not in log and "ERROR" not in log, log[-2000:]
    assert not pooled or log.count("login attempt") > 20, "the platform bypassed the bouncer"
    print(
        f"\ntopology: {len(accepted)} customers written by {WRITERS} GraphQL clients, "
        f"killed {', '.join(victims)}; {ledger.retried} writes retried; read models exact"
        f"{' (through PgBouncer)' if pooled else ''}"
    )
