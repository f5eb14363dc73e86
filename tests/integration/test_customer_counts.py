"""List totals from the counters the projections keep: exact after inserts, tags, owners,
stage moves, lifecycle and tier changes, merges (in either arrival order) and forgets."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest

from events.vocabulary import PIPELINE_STAGES
from projections.counts import count_customers, counted_dimension, recount
from projections.schema import reset_projection
from projections.views import CustomerFilter
from projections.vocabulary import LIFECYCLE_STAGES, TIERS
from tests.integration.support.read_models import Conn
from tests.integration.support.read_models import apply as apply_at
from tests.support.projection_events import T0, Envelope, Events, days

pytestmark = pytest.mark.integration

NOW = T0 + days(60)

LISTED_SQL = """
SELECT c.lifecycle_stage, c.tier, c.stage, c.owner, c.region, c.tags FROM rm_customers AS c
WHERE NOT EXISTS (SELECT 1 FROM rm_merges AS m JOIN rm_customers AS s ON s.id = m.survivor_id
                  WHERE m.duplicate_id = c.id)
"""
FIELDS = ("lifecycle_stage", "tier", "stage", "owner", "region")


def apply(conn: Conn, envelopes: Sequence[Envelope]) -> None:
    apply_at(conn, envelopes, NOW)


def real_counts(conn: Conn) -> Counter[tuple[str, str]]:
    """Per (filter field, value): the listed customers, counted row by row in Python."""
    found: Counter[tuple[str, str]] = Counter()
    for row in conn.execute(LISTED_SQL):
        found["all", ""] += 1
        for name, value in zip(FIELDS, row[:5], strict=True):
            if value is not None:
                found[name, value] += 1
        for tag in set(row[5]):
            found["tag", tag] += 1
    return found


def assert_exact(conn: Conn) -> None:
    real = real_counts(conn)
    values: dict[str, Sequence[str]] = {
        "lifecycle_stage": LIFECYCLE_STAGES,
        "tier": TIERS,
        "stage": PIPELINE_STAGES,
        "owner": ["ann", "bob", "nobody"],
        "region": ["north", "south"],
        "tag": ["vip", "churn", "unused"],
    }
    assert count_customers(conn, CustomerFilter()) == real["all", ""]
    for name, wanted in values.items():
        for value in wanted:
            where = CustomerFilter(**{name: value})
            assert counted_dimension(where) is not None  # a counter, not a scan
            assert count_customers(conn, where) == real[name, value], (name, value)
    stored = dict(conn.execute("SELECT dimension || ':' || value, n FROM rm_customer_counts"))
    recount(conn)
    assert dict(conn.execute("SELECT dimension || ':' || value, n FROM rm_customer_counts")) == (
        stored
    )
    conn.rollback()


def test_totals_stay_exact_through_every_kind_of_change(conn: Conn) -> None:
    events = Events()
    a, reg_a = events.register("Ann", at=T0, region="north", owner="ann")
    b, reg_b = events.register("Bob", at=T0 + days(1), region="south")
    c, reg_c = events.register("Cy", at=T0 + days(2), region="north")
    apply(conn, [reg_a, reg_b, reg_c])
    assert_exact(conn)
    assert count_customers(conn, CustomerFilter(region="north")) == 2

    apply(conn, [events.tag(a, "vip", "churn"), events.tag(b, "vip"), events.owner(b, "bob")])
    apply(conn, [events.move(c, "LEAD", "CONTACTED", at=T0 + days(3))])
    assert_exact(conn)
    assert count_customers(conn, CustomerFilter(tag="VIP ")) == 2  # as the filter reads it

    # Purchases change lifecycle and tier (materialized in the same transaction).
    apply(conn, [events.purchase(a, 60000, at=T0 + days(4)), events.untag(a, "churn")])
    assert_exact(conn)
    assert count_customers(conn, CustomerFilter(tier="BRONZE")) == 2

    # The duplicate's side of a merge arrives before the survivor exists, then both.
    d, reg_d = events.register("Dee", at=T0 + days(5), region="south", owner="ann")
    s, reg_s = events.register("Sue", at=T0 + days(6), region="south")
    merged, survivor_side = events.merge(s, d, at=T0 + days(7))
    apply(conn, [reg_d, merged])
    assert count_customers(conn, CustomerFilter(owner="ann")) == 2  # no survivor row yet
    assert_exact(conn)
    apply(conn, [reg_s, survivor_side])
    assert count_customers(conn, CustomerFilter(owner="ann")) == 1
    assert count_customers(conn, CustomerFilter()) == 4
    assert_exact(conn)

    # The survivor's side first: the link exists, the duplicate's row is not marked yet.
    e, reg_e = events.register("Eve", at=T0 + days(8), region="north")
    f, reg_f = events.register("Fay", at=T0 + days(8), region="north")
    merged_e, survivor_f = events.merge(f, e, at=T0 + days(9))
    apply(conn, [reg_e, reg_f, survivor_f])
    assert count_customers(conn, CustomerFilter(region="north")) == 3
    assert_exact(conn)
    apply(conn, [merged_e])
    assert count_customers(conn, CustomerFilter(region="north")) == 3
    assert_exact(conn)

    apply(conn, [events.forget(b, at=T0 + days(10))])
    assert_exact(conn)


def test_combinations_and_text_are_exact_counts_over_the_filter(conn: Conn) -> None:
    events = Events()
    regs = [events.register(f"P{n}", at=T0 + days(n), region=r)[1] for n, r in enumerate("nns")]
    apply(conn, regs)
    both = CustomerFilter(region="n", tier="BRONZE")
    assert counted_dimension(both) is None
    assert count_customers(conn, both) == 2
    assert count_customers(conn, CustomerFilter(text="p1")) == 1


def test_resetting_the_projection_empties_its_counters(conn: Conn) -> None:
    events = Events()
    apply(conn, [events.register("Zed", at=T0)[1]])
    assert count_customers(conn, CustomerFilter()) == 1
    reset_projection(conn, "customers")
    assert conn.execute("SELECT count(*) FROM rm_customer_counts").fetchone() == (0,)
    conn.execute(
        "INSERT INTO rm_customers (id, created_at, updated_at, version, last_position)"
        " VALUES (gen_random_uuid(), now(), now(), 1, 1)"
    )
    rows: list[Any] = conn.execute(
        "SELECT dimension, n FROM rm_customer_counts WHERE dimension = 'all'"
    ).fetchall()
    assert rows == [("all", 1)]
