"""Right to erasure on the read side: after CustomerForgotten no read-model table holds
the customer's name, contacts or free texts, while the facts stay countable."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import pytest
from psycopg import sql

from projections.queries import complaints_for, get_customers, list_customers, timeline
from projections.schema import ALL_TABLES
from projections.views import CustomerFilter
from tests.integration.support.read_models import Conn
from tests.integration.support.read_models import apply as apply_at
from tests.support.projection_events import T0, Envelope, Events, days

NOW = T0 + days(30)

SECRETS = (
    "Zelda Quorra",
    "zelda.quorra@example.com",
    "+8613912345678",
    "42 Hidden Lane",
    "touch-secret",
    "need-secret",
    "reason-secret",
    "survey-secret",
    "complaint-secret",
    "escalation-secret",
    "resolution-secret",
)

pytestmark = pytest.mark.integration


def apply(conn: Conn, envelopes: Sequence[Envelope], now: datetime = NOW) -> int:
    return apply_at(conn, envelopes, now)


def personal_history(events: Events) -> tuple[UUID, list[Envelope]]:
    """A customer whose personal data is spread over every table that can hold some."""
    cid, registered = events.register(
        "Zelda Quorra", at=T0, email="zelda.quorra@example.com", phone="+8613912345678"
    )
    complaint, filed = events.complain(cid, "HIGH", "complaint-secret by Zelda Quorra", at=T0)
    batch = [
        registered,
        events.change_contact(cid, T0 + days(1), address="42 Hidden Lane"),
        events.touch(cid, "PHONE", "touch-secret: called Zelda Quorra", at=T0 + days(1)),
        events.need(cid, "need-secret", at=T0 + days(1)),
        events.move(cid, "LEAD", "QUALIFIED", at=T0 + days(2)),
        events.move(cid, "QUALIFIED", "CONTACTED", at=T0 + days(2), reason="reason-secret"),
        events.survey(cid, 2, "survey-secret", at=T0 + days(2)),
        events.purchase(cid, 2500, at=T0 + days(3)),
        filed,
        events.escalate(cid, complaint, at=T0 + days(3), reason="escalation-secret"),
        events.resolve(cid, complaint, at=T0 + days(4), resolution="resolution-secret"),
    ]
    return cid, batch


def leaks(conn: Conn) -> dict[str, list[str]]:
    """Per table, the secrets found anywhere in its rows' text."""
    found: dict[str, list[str]] = {}
    for table in ALL_TABLES:
        statement = sql.SQL("SELECT count(*) FROM {} AS t WHERE t::text ILIKE %s").format(
            sql.Identifier(table)
        )
        for secret in SECRETS:
            row = conn.execute(statement, [f"%{secret}%"]).fetchone()
            if row and row[0]:
                found.setdefault(table, []).append(secret)
    return found


def test_the_secrets_are_there_before_forgetting(conn: Conn) -> None:
    _, batch = personal_history(Events())
    apply(conn, batch)
    found = leaks(conn)
    assert set(found) == {"rm_customers", "rm_touches", "rm_complaints", "rm_timeline"}
    assert set(found["rm_timeline"]) == set(SECRETS)


@pytest.mark.parametrize("same_batch", [False, True])
def test_forgetting_scrubs_every_table_and_keeps_the_facts(conn: Conn, same_batch: bool) -> None:
    events = Events()
    cid, batch = personal_history(events)
    forget = events.forget(cid, at=T0 + days(5))
    if same_batch:
        apply(conn, [*batch, forget])
    else:
        apply(conn, batch)
        apply(conn, [forget])
    assert leaks(conn) == {}

    view = get_customers(conn, [cid])[cid]
    assert view.forgotten and view.forgotten_at == T0 + days(5)
    assert (view.name, view.email, view.phone, view.address) == (None, None, None, None)
    assert [n.description for n in view.needs] == [None]
    history = conn.execute("SELECT stage_history FROM rm_customers WHERE id = %s", [cid]).fetchone()
    assert history is not None and {s.get("reason") for s in history[0]} == {None}
    assert [s.comment for s in view.surveys] == [None]
    assert view.purchases.count == 1 and view.tier == "SILVER"
    assert view.stage == "CONTACTED"
    (complaint,) = complaints_for(conn, [cid])[cid]
    assert (complaint.severity, complaint.status, complaint.category) == (
        "HIGH",
        "RESOLVED",
        "delivery",
    )
    assert (complaint.description, complaint.escalation_reason, complaint.resolution) == (
        None,
        None,
        None,
    )
    entries = [e.node for e in timeline(conn, cid).rows]
    assert [e.position for e in entries] == sorted(e["position"] for e in [*batch, forget])
    assert all(e.actor == "alice" for e in entries)
    assert entries[0].data["name"] is None and entries[0].data["phone"] is None
    assert "region" in entries[0].data  # facts that are not personal keep their shape
    assert entries[-1].data == {"reason": "erasure request"}
    assert list_customers(conn, CustomerFilter(text="Zelda")).total_count == 0
    assert list_customers(conn, None).total_count == 1


def test_redelivered_old_events_do_not_bring_the_data_back(conn: Conn) -> None:
    events = Events()
    cid, batch = personal_history(events)
    apply(conn, [*batch, events.forget(cid, at=T0 + days(5))])
    apply(conn, batch)
    assert leaks(conn) == {}


def test_forgetting_one_customer_leaves_the_others_alone(conn: Conn) -> None:
    events = Events()
    cid, batch = personal_history(events)
    other, registered = events.register("Keep Me", at=T0, email="keep@example.com")
    kept = [registered, events.touch(other, "EMAIL", "keep this", at=T0)]
    apply(conn, [*batch, *kept, events.forget(cid, at=T0 + days(5))])
    view = get_customers(conn, [other])[other]
    assert (view.name, view.email) == ("Keep Me", "keep@example.com")
    assert timeline(conn, other).rows[1].node.data["summary"] == "keep this"
