"""Helpers for tests that run the platform's processes on the real broker: start a
`crm` verb as a process, stop it, and record one customer's worth of commands."""

from __future__ import annotations

import os
import signal
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from commands.messages import (
    CommandContext,
    MoveStage,
    PurchaseLineInput,
    RecordContactTouch,
    RecordPurchase,
    RegisterCustomer,
)
from commands.service import CommandService
from projections.schema import ALL_TABLES
from tests.integration.support.servers import ServerSet

CTX = CommandContext(actor="processor-test")


def crm_command() -> list[str]:
    """The venv's `crm` (`ops.stack.crm_command`): found from any checkout, also under
    `make test`, which has no venv on PATH."""
    from ops.stack import crm_command as venv_crm

    return venv_crm()


def start_worker(
    servers: ServerSet,
    database_url: str,
    topic: str,
    master_key: str,
    data_dir: Path,
    verb: tuple[str, ...] = ("worker", "projections"),
    log: Path | None = None,
    **settings: str,
) -> subprocess.Popen[bytes]:
    """`crm VERB` on the test's database and topic; `log` takes its stdout and stderr,
    `settings` are more `CRM_*` variables (`worker_join_timeout="3"`)."""
    env = {
        **os.environ,
        "CRM_DATABASE_URL": database_url,
        "CRM_KAFKA_BOOTSTRAP": servers.kafka_bootstrap,
        "CRM_KAFKA_TOPIC": topic,
        "CRM_MASTER_KEY": master_key,
        "CRM_DATA_DIR": str(data_dir),
        **{f"CRM_{name.upper()}": value for name, value in settings.items()},
    }
    out = log.open("ab") if log else subprocess.DEVNULL
    try:
        return subprocess.Popen(
            [*crm_command(), *verb], env=env, stdout=out, stderr=out, start_new_session=True
        )
    finally:
        if log:
            out.close()  # type: ignore[union-attr]


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def one_customer(service: CommandService, i: int) -> None:
    customer_id = service.handle(
        RegisterCustomer(name=f"P{i}", email=f"p{i}@example.com"), CTX
    ).customer_id
    service.handle(
        RecordContactTouch(customer_id=customer_id, channel="WECHAT", summary="hello"), CTX
    )
    service.handle(MoveStage(customer_id=customer_id, to="QUOTE"), CTX)
    service.handle(
        RecordPurchase(
            customer_id=customer_id,
            order_id=f"O{i}",
            lines=(PurchaseLineInput(sku="X", quantity=1, unit_price=Decimal("120.00")),),
        ),
        CTX,
    )


def read_model_snapshot(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every read-model row, sorted, for comparing two builds of the same events.

    `derived_as_of` is left out: when lifecycle and tier were computed is the clock's;
    what they are (and until when) is compared.
    """
    tables: dict[str, list[tuple[Any, ...]]] = {}
    with psycopg.connect(database_url) as conn:
        for table in ALL_TABLES:
            cursor = conn.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(table)))
            names = [d.name for d in cursor.description or ()]
            kept = [i for i, n in enumerate(names) if n != "derived_as_of"]
            rows = [tuple(r[i] for i in kept) for r in cursor.fetchall()]
            tables[table] = sorted(rows, key=repr)
    return tables
