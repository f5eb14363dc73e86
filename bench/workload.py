"""The benchmark's workload: one list of operations, played by the baseline and by us.

The mix is what the single-command path sees from CRM screens: registrations, then
mostly contact touches, with tags, needs, stage moves and purchases in between. Each
operation names a customer by number; a client (thread) owns whole customers, so its
operations on a customer stay in order and clients never contend for one stream
(contention is measured by the service's own concurrency tests, not here).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from commands.messages import (
    Command,
    MoveStage,
    PurchaseLineInput,
    RecordContactTouch,
    RecordNeed,
    RecordPurchase,
    RegisterCustomer,
    TagCustomer,
)
from events.vocabulary import PIPELINE_PATH

OPS_PER_CUSTOMER = 10
STAGES = PIPELINE_PATH[1:-1]
"""The stages between LEAD and WON a workload customer moves through, in order."""
MIX = (("touch", 60), ("tag", 10), ("need", 10), ("move", 10), ("purchase", 10))
CHANNELS = ("PHONE", "EMAIL", "WECHAT", "MEETING", "VISIT")
"""A pick of `events.vocabulary.CHANNELS`, the ones a sales team mostly uses."""


@dataclass(frozen=True)
class Op:
    """One operation: what to do (`kind`), to which customer, with which values."""

    kind: str
    customer: int
    values: dict[str, Any]


def workload(operations: int, seed: int = 7) -> list[Op]:
    """`operations` ops: every customer registered before its other operations."""
    rng = random.Random(seed)
    customers = max(1, operations // OPS_PER_CUSTOMER)
    ops = [
        Op(
            "register",
            n,
            {
                "name": f"客户{n}",
                "email": f"bench{n}@example.cn",
                "phone": f"138{n % 100_000_000:08d}",
                "company": f"示例科技{n}有限公司",
                "industry": "制造",
                "region": "上海",
                "source": "web",
                "owner": "王磊",
            },
        )
        for n in range(customers)
    ]
    stage = [0] * customers
    kinds = [k for k, _ in MIX]
    weights = [w for _, w in MIX]
    while len(ops) < operations:
        n = rng.randrange(customers)
        kind = rng.choices(kinds, weights)[0]
        if kind == "move" and stage[n] >= len(STAGES):
            kind = "touch"
        ops.append(Op(kind, n, _values(kind, n, rng, stage)))
    return ops[:operations]


def _values(kind: str, n: int, rng: random.Random, stage: list[int]) -> dict[str, Any]:
    if kind == "touch":
        return {
            "channel": rng.choice(CHANNELS),
            "direction": "OUTBOUND",
            "summary": "电话回访,了解使用情况",
            "outcome": "约定产品演示",
        }
    if kind == "tag":
        # A new tag every time: an existing one would record nothing on our side.
        return {
            "tags": [
                f"{rng.choice(('高价值', '潜力客户', '重点跟进', '活跃'))}-{rng.getrandbits(32):x}"
            ]
        }
    if kind == "need":
        return {"need_id": f"need-{rng.getrandbits(48):x}", "description": "需要销售漏斗报表"}
    if kind == "move":
        stage[n] += 1
        return {"to": STAGES[stage[n] - 1]}
    return {
        "order_id": f"SO-{rng.getrandbits(48):x}",
        "sku": "CRM-PRO-SEAT",
        "quantity": rng.randint(1, 20),
        "unit_price": Decimal("2400.00"),
    }


def partition(ops: list[Op], clients: int) -> list[list[Op]]:
    """Split by customer (customer n to client n mod clients), keeping each one's order."""
    parts: list[list[Op]] = [[] for _ in range(clients)]
    for op in ops:
        parts[op.customer % clients].append(op)
    return parts


def as_command(op: Op, customer_id: UUID) -> Command:
    """Our command for an operation (`customer_id`: the run's id for that customer)."""
    v = op.values
    if op.kind == "register":
        return RegisterCustomer(customer_id=customer_id, **v)
    if op.kind == "touch":
        return RecordContactTouch(customer_id=customer_id, **v)
    if op.kind == "tag":
        return TagCustomer(customer_id=customer_id, add=tuple(v["tags"]))
    if op.kind == "need":
        return RecordNeed(customer_id=customer_id, **v)
    if op.kind == "move":
        return MoveStage(customer_id=customer_id, to=v["to"])
    line = PurchaseLineInput(sku=v["sku"], quantity=v["quantity"], unit_price=v["unit_price"])
    return RecordPurchase(customer_id=customer_id, lines=(line,), order_id=v["order_id"])
