"""Samples `/healthz` against a real read, the whole run long: a 200 must mean reads work.

Each sample is read, health, read: a 200 between two failed reads is a lie; a 200 beside
one failed read is a change of state in between (a kill landing), not counted.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from chaos.client import READ, Api, Refused
from chaos.running import PlatformProcess


@dataclass
class HealthSamples:
    total: int = 0
    healthy: int = 0
    unhealthy: int = 0
    lies: int = 0  # 200 while reads failed before and after it
    lie_details: list[str] = field(default_factory=list)


class Sampler:
    def __init__(self, platform: PlatformProcess, api: Api, customer: str) -> None:
        self.platform = platform
        self.api = api
        self.customer = customer
        self.samples = HealthSamples()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> HealthSamples:
        self.stopping.set()
        self.thread.join(timeout=30)
        self.api.close()
        return self.samples

    def _read_ok(self) -> bool:
        try:
            data = self.api.call(READ, {"id": self.customer, "at": None})
        except Refused:
            return False
        return bool(data and data.get("customer"))

    def _run(self) -> None:
        while not self.stopping.wait(0.25):
            before = self._read_ok()
            code, body = self.platform.health()
            after = self._read_ok()
            self.samples.total += 1
            if code == 200:
                self.samples.healthy += 1
                if not before and not after:
                    self.samples.lies += 1
                    self.samples.lie_details.append(str(body)[:300])
            else:
                self.samples.unhealthy += 1
