"""The writers: register customers and record purchases through GraphQL, and remember
each write the platform accepted (the ledger every later check is measured against)."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from chaos.client import PURCHASE, REGISTER, Api


@dataclass
class Ledger:
    """Accepted writes; thread-safe."""

    customers: list[str] = field(default_factory=list)
    purchases: dict[str, tuple[str, Decimal]] = field(default_factory=dict)  # order -> (who, cny)
    retried: int = 0  # writes that needed more than one attempt
    lock: threading.Lock = field(default_factory=threading.Lock)

    def totals(self) -> dict[str, Decimal]:
        totals: dict[str, Decimal] = defaultdict(Decimal)
        with self.lock:
            for customer, amount in self.purchases.values():
                totals[customer] += amount
        return dict(totals)

    @property
    def writes(self) -> int:
        return len(self.customers) + len(self.purchases)


def register(api: Api, ledger: Ledger, name: str) -> tuple[str, int]:
    """(customer id, position) of a new customer, once accepted."""
    variables = {"input": {"name": name, "source": "chaos", "idempotencyKey": uuid.uuid4().hex}}
    data, attempts = api.write(REGISTER, variables)
    payload = data["registerCustomer"]
    customer = str(payload["customer"]["id"])
    with ledger.lock:
        ledger.customers.append(customer)
        ledger.retried += attempts > 1
    return customer, int(payload["position"])


def purchase(api: Api, ledger: Ledger, customer: str, rng: random.Random) -> None:
    order = f"chaos-{uuid.uuid4().hex[:16]}"
    price = Decimal(rng.randint(100, 99_999)) / 100
    line = {"sku": f"SKU-{rng.randint(1, 40)}", "quantity": 1, "unitPrice": str(price)}
    variables = {
        "input": {
            "customerId": customer,
            "orderId": order,
            "lines": [line],
            "idempotencyKey": uuid.uuid4().hex,
        }
    }
    _, attempts = api.write(PURCHASE, variables)
    with ledger.lock:
        ledger.purchases[order] = (customer, price)
        ledger.retried += attempts > 1


class Load:
    """`writers` threads writing until `stop()`: first `customers` registrations shared
    out, then purchases for random customers."""

    def __init__(self, make_api: Callable[[], Api], ledger: Ledger, customers: int) -> None:
        self.make_api = make_api
        self.ledger = ledger
        self.customers = customers
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.errors: list[BaseException] = []
        self.started = 0.0
        self.seconds = 0.0

    def start(self, writers: int) -> None:
        self.started = time.monotonic()
        for n in range(writers):
            thread = threading.Thread(target=self._write, args=(n, writers), daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self) -> None:
        """Stop starting writes; wait for the ones in flight to be accepted."""
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=180)
        self.seconds = time.monotonic() - self.started

    def _write(self, n: int, writers: int) -> None:
        rng = random.Random(n)
        api = self.make_api()
        try:
            for i in range(n, self.customers, writers):
                if self.stopping.is_set():
                    return
                register(api, self.ledger, f"Chaos Customer {i}")
            while not self.stopping.is_set():
                with self.ledger.lock:
                    known = list(self.ledger.customers)
                purchase(api, self.ledger, rng.choice(known), rng)
                time.sleep(0.02)
        except BaseException as error:  # reported by the run, never swallowed
            self.errors.append(error)
        finally:
            api.close()
