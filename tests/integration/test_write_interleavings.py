"""Property: concurrent writers on one customer, through every write path at once (two
processes' stores, each with its own round loader and cache, one of them behind a group
committer), lose no update, duplicate none, and leave a hash chain that verifies.

Hypothesis draws the commands, which writer sends each, pins on expected versions and
idempotency keys; the threads are released together, so the interleaving is the
scheduler's, different every run."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from uuid import UUID, uuid4

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregates.customer import Customer
from aggregates.errors import Conflict
from commands.application import CrmApplication
from commands.crypto import generate_master_key
from commands.group_commit import GroupCommitter
from commands.messages import (
    CommandContext,
    CommandResult,
    RecordContactTouch,
    RegisterCustomer,
    TagCustomer,
)
from commands.service import CommandService
from compliance.verify import verify_chain

CTX = CommandContext(actor="interleaving")


@dataclass(frozen=True)
class Writes:
    """Two stores on one database (as two processes would be) and a group committer."""

    first: CrmApplication
    second: CrmApplication
    services: tuple[CommandService, CommandService]
    committer: GroupCommitter


@pytest.fixture
def writes(database_url: str) -> Iterator[Writes]:
    key = generate_master_key()
    first = CrmApplication(database_url, master_key=key, pool_size=4, max_overflow=16)
    second = CrmApplication(
        database_url, master_key=key, pool_size=4, max_overflow=16, snapshotting={Customer: 3}
    )
    services = (CommandService(first, max_attempts=200), CommandService(second, max_attempts=200))
    committer = GroupCommitter(services[0], window=0.002)
    yield Writes(first, second, services, committer)
    committer.close()
    first.close()
    second.close()


@dataclass(frozen=True)
class Step:
    writer: int  # 0: group committer, 1: first store's service, 2: second store's
    kind: str  # "touch" or "tag"
    keyed: bool
    pinned: bool


steps = st.builds(
    Step,
    writer=st.integers(min_value=0, max_value=2),
    kind=st.sampled_from(["touch", "tag"]),
    keyed=st.booleans(),
    pinned=st.booleans(),
)


def sender(writes: Writes, writer: int) -> Callable[..., CommandResult]:
    if writer == 0:
        return writes.committer.handle
    return writes.services[writer - 1].handle


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=st.lists(steps, min_size=2, max_size=12), lanes=st.integers(2, 4))
def test_property_writers_on_one_customer_lose_nothing_and_the_chain_verifies(
    writes: Writes, database_url: str, plan: list[Step], lanes: int
) -> None:
    customer = writes.services[1].handle(RegisterCustomer(name="Interleaved"), CTX).customer_id
    # Letters only: a tag with a long run of digits is refused as a phone number (a rule).
    run = uuid4().hex[:8].translate(str.maketrans("0123456789", "ghijklmnop"))
    outcomes: dict[int, CommandResult | BaseException] = {}
    pins: dict[int, int] = {}
    barrier = threading.Barrier(lanes)

    def lane(number: int) -> None:
        barrier.wait()
        for index in range(number, len(plan), lanes):
            step = plan[index]
            label = f"{run}-{index}"
            version = None
            if step.pinned:  # the version this writer saw a moment ago (maybe stale)
                seen = writes.first.loader.take([customer])[customer]
                assert seen is not None
                writes.first.loader.give_back([seen])
                version = pins[index] = seen.version
            command = (
                RecordContactTouch(
                    customer_id=customer,
                    channel="PHONE",
                    summary=label,
                    expected_version=version,
                    idempotency_key=label if step.keyed else None,
                )
                if step.kind == "touch"
                else TagCustomer(
                    customer_id=customer,
                    add=(label,),
                    expected_version=version,
                    idempotency_key=label if step.keyed else None,
                )
            )
            try:
                outcomes[index] = sender(writes, step.writer)(command, CTX)
            except BaseException as error:  # judged below
                outcomes[index] = error

    threads = [threading.Thread(target=lane, args=(n,)) for n in range(lanes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    accepted = {i for i, o in outcomes.items() if isinstance(o, CommandResult)}
    refused = {i: o for i, o in outcomes.items() if not isinstance(o, CommandResult)}
    # Only a pinned command may be refused, and only as a version conflict; an accepted
    # pinned one was recorded right after the version it expected.
    assert all(plan[i].pinned and isinstance(e, Conflict) for i, e in refused.items()), refused
    for index, version in pins.items():
        outcome = outcomes[index]
        if isinstance(outcome, CommandResult):
            assert outcome.version == version + 1

    labels = recorded_labels(writes.second, database_url, customer, run)
    expected = sorted(f"{run}-{i}" for i in accepted)
    assert sorted(labels) == expected  # nothing lost, nothing twice
    versions = sorted(o.version for o in outcomes.values() if isinstance(o, CommandResult))
    assert versions == list(range(2, 2 + len(accepted)))  # one version per accepted command
    current = writes.second.loader.take([customer])[customer]
    assert isinstance(current, Customer) and current.version == 1 + len(accepted)
    tags = {f"{run}-{i}" for i in accepted if plan[i].kind == "tag"}
    assert tags <= set(current.tags)

    report = verify_chain(database_url, writes.first.crm_recorder.chain_tables, batch_size=7)
    assert report.ok, report


def recorded_labels(app: CrmApplication, url: str, customer: UUID, run: str) -> list[str]:
    """The run's labels in the customer's stream: a touch's summary, a tag command's tag."""
    with psycopg.connect(url) as conn:
        positions = [
            row[0]
            for row in conn.execute(
                "SELECT notification_id FROM stored_events WHERE originator_id = %s ORDER BY 1",
                (customer,),
            ).fetchall()
        ]
    labels: list[str] = []
    for position in positions:
        [notification] = app.recorder.select_notifications(start=position, limit=1)
        state = app.notification_state(notification)
        summary = state.get("summary")
        if isinstance(summary, str) and summary.startswith(run):
            labels.append(summary)
        for tag in state.get("tags") or ():
            if isinstance(tag, str) and tag.startswith(run):
                labels.append(tag)
    return labels
