"""The gateway's read queries as the CRM screens send them, for the gateway scenario."""

from __future__ import annotations

import random
from collections.abc import Sequence

from bench.load import Body

PROFILE_360 = """
query($id: ID!) {
  customer(id: $id) {
    id name email phone company industry region owner tags stage lifecycleStage tier
    purchases { count total } touches { count byChannel { channel count } }
    complaints { id status severity } createdAt updatedAt
  }
}
"""

LIST = """
query($filter: CustomerFilter, $first: Int) {
  customers(filter: $filter, first: $first) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id name company stage lifecycleStage tier purchases { count total } } }
  }
}
"""

TYPENAME: Body = {"query": "{ __typename }"}

FILTERS: tuple[dict[str, str] | None, ...] = (
    None,
    {"stage": "QUALIFIED"},
    {"lifecycleStage": "REPEAT_CUSTOMER"},
    {"tier": "GOLD"},
    {"region": "上海"},
)


def profile_bodies(ids: Sequence[str], count: int, seed: int = 3) -> list[Body]:
    """`count` 360° queries on customers picked at random (the read pool's cache of hot
    rows is part of what a screen sees, so ids repeat as they would in use)."""
    rng = random.Random(seed)
    return [{"query": PROFILE_360, "variables": {"id": rng.choice(ids)}} for _ in range(count)]


def list_bodies() -> list[Body]:
    """A page of 20 under each filter a list screen offers, in turn."""
    return [{"query": LIST, "variables": {"filter": f, "first": 20}} for f in FILTERS]
