"""`kill -9` of one supervised part and the time until the platform serves again.

Recovered means both: `/healthz` answers 200, and a write made after the kill is visible
in a read (`customer(id, atLeast: position)`, which waits for the read models).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any

import psutil

from chaos.client import READ, REGISTER, Api
from chaos.load import Ledger
from chaos.running import PlatformProcess


@dataclass(frozen=True)
class Recovery:
    target: str
    restarted_s: float  # the supervisor runs a new process
    healthy_s: float  # /healthz is 200 again
    write_visible_s: float  # a fresh write is visible in a read: recovered

    def as_dict(self) -> dict[str, Any]:
        return {k: round(v, 2) if isinstance(v, float) else v for k, v in asdict(self).items()}


def fresh_write_visible(api: Api, ledger: Ledger, deadline: float) -> None:
    """Register a customer (same key on every retry), then read it back through the read
    models; retried until both work or `deadline`."""
    key = uuid.uuid4().hex
    variables = {"input": {"name": "Chaos Probe", "source": "chaos", "idempotencyKey": key}}
    while time.monotonic() < deadline:
        data = api.call(REGISTER, variables)
        if data is None:
            time.sleep(0.1)
            continue
        payload = data["registerCustomer"]
        customer, position = str(payload["customer"]["id"]), int(payload["position"])
        with ledger.lock:
            if customer not in ledger.customers:
                ledger.customers.append(customer)
        while time.monotonic() < deadline:
            read = api.call(READ, {"id": customer, "at": position})
            if read is not None and read.get("customer"):
                return
            time.sleep(0.1)
    raise TimeoutError("no fresh write became visible before the deadline")


def victim(platform: PlatformProcess, target: str) -> str:
    """The process to kill for `target`: for the relay, whichever replica leads (killing
    a standby relay would cost nothing and prove nothing); else `target` itself."""
    if target != "relay":
        return target
    for name, entry in platform.supervisor()["components"].items():
        if entry.get("component") != "relay":
            continue
        try:
            beat = json.loads((platform.data_dir / "run" / f"{name}.json").read_text())
        except (OSError, ValueError):
            continue
        if beat.get("pid") == entry.get("pid") and str(beat.get("detail", "")).startswith(
            "leading"
        ):
            return str(name)
    return target


def kill_and_recover(
    platform: PlatformProcess, target: str, api: Api, ledger: Ledger, timeout: float = 90.0
) -> Recovery:
    name = victim(platform, target)
    old = platform.pid(name)
    psutil.Process(old).kill()
    killed = time.monotonic()
    platform.wait_replaced(name, old, timeout=timeout)
    restarted = time.monotonic() - killed
    deadline = killed + timeout
    while platform.health()[0] != 200:
        if time.monotonic() > deadline:
            raise TimeoutError(f"/healthz not 200 within {timeout:.0f}s of killing {target}")
        time.sleep(0.05)
    healthy = time.monotonic() - killed
    fresh_write_visible(api, ledger, deadline)
    return Recovery(target, restarted, healthy, time.monotonic() - killed)
