"""The commands benchmark's workload as GraphQL mutations, one body per operation.

The same operations the plain loop plays (`bench.workload`), minus the kinds the
API has no mutation for (needs), so both sides do the same work. The payload asks for
`position` and `version` only: asking for `customer` would make each mutation wait for
the read models (read-your-writes), which the lag measurement covers separately.
"""

from __future__ import annotations

import uuid
from typing import Any

from bench.load import Body
from bench.workload import Op, partition, workload

KINDS = ("register", "touch", "tag", "move", "purchase")

MUTATIONS = {
    "register": ("registerCustomer", "RegisterCustomerInput"),
    "touch": ("recordContactTouch", "RecordContactTouchInput"),
    "tag": ("tagCustomer", "TagCustomerInput"),
    "move": ("moveStage", "MoveStageInput"),
    "purchase": ("recordPurchase", "RecordPurchaseInput"),
}


def mutation_ops(operations: int, seed: int) -> list[Op]:
    """`operations` ops of the workload's mix that the API can express."""
    ops: list[Op] = []
    size = operations
    while len(ops) < operations:
        ops = [op for op in workload(size, seed) if op.kind in KINDS]
        size += max(1, operations // 8)
    return ops[:operations]


def as_body(op: Op, customer_id: str) -> Body:
    name, input_type = MUTATIONS[op.kind]
    query = f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ position version }} }}"
    return {"query": query, "variables": {"input": _input(op, customer_id)}}


def _input(op: Op, customer_id: str) -> dict[str, Any]:
    v = op.values
    if op.kind == "register":
        # Emails are unique among live customers: each repeat registers new people.
        return {"customerId": customer_id, **v, "email": f"bench-{customer_id}@example.cn"}
    if op.kind == "touch":
        return {"customerId": customer_id, **v}
    if op.kind == "tag":
        return {"customerId": customer_id, "add": v["tags"]}
    if op.kind == "move":
        return {"customerId": customer_id, "to": v["to"]}
    line = {"sku": v["sku"], "quantity": v["quantity"], "unitPrice": str(v["unit_price"])}
    return {"customerId": customer_id, "orderId": v["order_id"], "lines": [line]}


def bodies_per_client(ops: list[Op], clients: int) -> list[list[Body]]:
    """Each customer's mutations on one client, in order; new customer ids per call."""
    ids = {op.customer: str(uuid.uuid4()) for op in ops}
    return [[as_body(op, ids[op.customer]) for op in part] for part in partition(ops, clients)]
