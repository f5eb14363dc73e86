"""Demo data: deterministic, realistic, in time order, and accepted by the real write side."""

from __future__ import annotations

import subprocess
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from uuid import UUID

import psycopg
import pytest

from chaos.running import clean_env, crm_argv
from commands.crypto import generate_master_key
from commands.messages import (
    AssignComplaint,
    AssignOwner,
    Command,
    EscalateComplaint,
    FileComplaint,
    ForgetCustomer,
    MergeCustomers,
    MoveStage,
    RecordPurchase,
    RegisterCustomer,
    ResolveComplaint,
)
from demo.command import seed_database
from demo.custom_fields import DEFINITIONS, OpenCustomers, values_for
from demo.history import Batch, DemoHistory
from demo.organisation import organisation_commands
from demo.people import People
from demo.vocabulary import SOURCES

pytestmark = pytest.mark.integration

UNTIL = datetime(2025, 6, 30, 12, tzinfo=UTC)
SEED_WITH_MERGE_AND_FORGET = 7  # its first 200 customers include both (checked below)


def commands_of(customers: int, seed: int, batch: int = 25) -> list[Command]:
    history = DemoHistory(customers=customers, seed=seed, until=UNTIL)
    return [c for b in history.batches(batch) for c in b.commands]


@pytest.fixture(scope="module")
def big() -> list[Command]:
    return commands_of(2000, seed=42)


def test_the_same_seed_gives_the_same_history_whatever_the_batch_size() -> None:
    first = commands_of(120, seed=3, batch=25)
    assert first == commands_of(120, seed=3, batch=25)
    assert first == commands_of(120, seed=3, batch=7)
    assert first == commands_of(120, seed=3, batch=1000)
    assert first != commands_of(120, seed=4)
    # More customers extend the history; the first ones stay who they were.
    registered = [c for c in first if isinstance(c, RegisterCustomer)]
    longer = [c for c in commands_of(150, seed=3) if isinstance(c, RegisterCustomer)]
    assert {c.customer_id: c for c in registered}.items() <= {
        c.customer_id: c for c in longer
    }.items()


def test_every_customer_history_is_in_time_order_within_the_last_year(
    big: list[Command],
) -> None:
    owner_of_complaint: dict[UUID, UUID] = {}
    times: dict[UUID, list[datetime]] = defaultdict(list)
    for command in big:
        assert command.occurred_at is not None
        assert UNTIL - timedelta(days=365) <= command.occurred_at <= UNTIL
        if isinstance(command, FileComplaint):
            assert command.complaint_id is not None
            owner_of_complaint[command.complaint_id] = command.customer_id
        if isinstance(command, EscalateComplaint | AssignComplaint | ResolveComplaint):
            customer = owner_of_complaint[command.complaint_id]
        elif isinstance(command, MergeCustomers):
            customer = command.duplicate_id
        else:
            customer = command.customer_id  # type: ignore[attr-defined]
        times[customer].append(command.occurred_at)
    assert len(times) == 2000
    for stamps in times.values():
        assert stamps == sorted(stamps)


def test_the_history_has_the_variety_of_a_real_crm(big: list[Command]) -> None:
    kinds = Counter(type(c).__name__ for c in big)
    registrations = [c for c in big if isinstance(c, RegisterCustomer)]
    assert kinds["RegisterCustomer"] == 2000
    assert len(big) >= 2000 * 10  # ~12 events per customer: 10k customers > 100k events
    assert {c.source for c in registrations} == {source for source, _ in SOURCES}
    assert any(c.referred_by for c in registrations)
    # Chinese names, but for a few lookalikes typed again in pinyin (the duplicate finder's)
    latin = [c for c in registrations if not "\u4e00" <= c.name[0] <= "\u9fff"]
    assert len(latin) < 0.01 * 2000 and all(c.name.isascii() for c in latin)
    assert len({c.email for c in registrations if c.email}) == sum(
        1 for c in registrations if c.email
    )
    moves = Counter(c.to for c in big if isinstance(c, MoveStage))
    assert moves["CONTACTED"] > moves["QUALIFIED"] > moves["NEGOTIATION"] > 0  # drop-off
    assert 0.05 * 2000 < moves["WON"] < 0.2 * 2000 and moves["LOST"] > 0
    assert any(c.to == "LEAD" and c.reason for c in big if isinstance(c, MoveStage))  # won back
    assert all(c.reason for c in big if isinstance(c, AssignOwner))  # hand-overs say why
    currencies = Counter(c.currency for c in big if isinstance(c, RecordPurchase))
    assert currencies["CNY"] > currencies["USD"] > 0 and currencies["EUR"] > 0
    severities = Counter(c.severity for c in big if isinstance(c, FileComplaint))
    assert set(severities) == {"LOW", "MEDIUM", "HIGH", "CRITICAL"}
    assert any(c.satisfaction for c in big if isinstance(c, ResolveComplaint))
    for kind in (
        "MergeCustomers",
        "ForgetCustomer",
        "AnswerSatisfactionSurvey",
        "RecordNeed",
        "AddNote",
        "ScheduleTask",
        "AssignComplaint",
        "EscalateComplaint",
        "ChangeConsent",
    ):
        assert kinds[kind] > 0, kind


def test_seeding_goes_through_the_command_layer_and_counts_what_it_recorded(
    database_url: str,
) -> None:
    planned = commands_of(200, seed=SEED_WITH_MERGE_AND_FORGET)
    assert any(isinstance(c, MergeCustomers) for c in planned)
    assert any(isinstance(c, ForgetCustomer) for c in planned)
    report = seed_database(
        database_url,
        key=generate_master_key(),
        customers=200,
        seed=SEED_WITH_MERGE_AND_FORGET,
        batch=25,
        until=UNTIL,
    )
    assert report.customers == 200
    watched = OpenCustomers()
    list(watched.watch([Batch(200, planned)]))
    demo_values = [values_for(c, UNTIL) for c in watched.open()]
    set_values = sum(1 for v in demo_values if v is not None)
    assert 0 < set_values < 200
    reps = People(SEED_WITH_MERGE_AND_FORGET).owners
    organisation = len(organisation_commands(reps))
    assert report.commands == len(planned) + organisation + len(DEFINITIONS) + set_values
    with psycopg.connect(database_url) as conn:
        events = conn.execute("SELECT count(*) FROM stored_events").fetchone()
        actors = conn.execute("SELECT DISTINCT actor FROM crm_event_meta").fetchall()
        keys = conn.execute("SELECT count(*) FROM crm_customer_keys").fetchone()
    assert events == (report.events,)
    assert report.events >= report.commands  # referrals, merges, CRITICAL add events
    assert actors == [("crm-seed",)]
    with psycopg.connect(database_url) as conn:
        changed = conn.execute(
            "SELECT count(*) FROM stored_events WHERE topic LIKE %s", ["%:CustomFieldsChanged"]
        ).fetchone()
    assert changed == (set_values,)  # the demo's custom fields, on open customers only
    forgotten = sum(1 for c in planned if isinstance(c, ForgetCustomer))
    assert keys == (200 - forgotten,)  # forgetting destroyed those customers' keys


def crm(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        crm_argv(*args), env=clean_env(env), capture_output=True, text=True, timeout=300
    )


def test_crm_seed_loads_once_and_then_leaves_the_store_alone(
    database_url: str, tmp_path: object
) -> None:
    env = {"CRM_DATABASE_URL": database_url, "CRM_DATA_DIR": str(tmp_path)}
    first = crm("seed", "--customers", "30", "--until", "2025-06-30", env=env)
    assert first.returncode == 0, first.stderr
    assert "seeded 30 customers" in first.stdout
    # Off a terminal (crm demo's seed.log) progress comes as plain lines, not a bar.
    assert "seeding: 30/30 (" in first.stdout and "\x1b[" not in first.stdout
    again = crm("seed", "--customers", "30", env=env)
    assert again.returncode == 0, again.stderr
    assert "already holds" in again.stdout
    bad = crm("seed", "--batch", "0", env=env)
    assert bad.returncode == 2 and bad.stderr.startswith("error: --batch: ")
    none = crm("seed", "--processes", "0", "--force", env=env)
    assert none.returncode == 2 and none.stderr.startswith("error: --processes: ")


def test_the_history_leaves_likely_duplicates_for_the_finder(big: list[Command]) -> None:
    """Lookalikes (a name again in pinyin or hanzi, a phone typed with spaces), not
    merged: same pinyin name key or same phone digits as an earlier customer."""
    from projections.duplicates import name_key
    from projections.search_keys import name_pinyin

    merged = {c.duplicate_id for c in big if isinstance(c, MergeCustomers)}
    seen_names: set[str] = set()
    seen_phones: set[str] = set()
    lookalikes = 0
    for command in big:
        if not isinstance(command, RegisterCustomer) or command.customer_id in merged:
            continue
        name = name_key(name_pinyin(command.name))
        phone = "".join(c for c in command.phone or "" if c.isdigit())[-11:] or None
        if (name in seen_names or phone in seen_phones) and command.source == "trade-show":
            lookalikes += 1
        seen_names.add(name or "")
        seen_phones.add(phone or "")
    assert lookalikes >= 5
