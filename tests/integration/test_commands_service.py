"""The command service on the real PostgreSQL: versions, idempotency, emails, forgetting,
merging, batches. Concurrency lives in test_commands_concurrency.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import psycopg
import pytest

from aggregates.customer import Customer
from aggregates.errors import Conflict, NotFound, RuleViolated, ValidationFailed
from commands.application import CrmApplication
from commands.crypto import generate_master_key
from commands.idempotency import IdempotencyMismatch
from commands.messages import (
    AnswerSatisfactionSurvey,
    AssignOwner,
    ChangeConsent,
    ChangeContactDetails,
    CommandContext,
    EscalateComplaint,
    FileComplaint,
    ForgetCustomer,
    MergeCustomers,
    MoveStage,
    PurchaseLineInput,
    RecordContactTouch,
    RecordNeed,
    RecordPurchase,
    RegisterCustomer,
    ResolveComplaint,
    TagCustomer,
)
from commands.service import CommandService

pytestmark = pytest.mark.integration

CTX = CommandContext(actor="alice")


@pytest.fixture
def master_key() -> str:
    return generate_master_key()


@pytest.fixture
def app(database_url: str, master_key: str) -> Iterator[CrmApplication]:
    application = CrmApplication(database_url, master_key=master_key, pool_size=2)
    yield application
    application.close()


@pytest.fixture
def service(app: CrmApplication) -> CommandService:
    return CommandService(app)


def register(service: CommandService, name: str = "Ann Lee", **kw: object) -> UUID:
    return service.handle(RegisterCustomer(name=name, **kw), CTX).customer_id  # type: ignore[arg-type]


def scalar(url: str, sql: str, *params: object) -> object:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql, params).fetchone()
        assert row is not None
        return row[0]


def event_count(url: str) -> object:
    return scalar(url, "SELECT count(*) FROM stored_events")


# -- every command goes through ---------------------------------------------------------------


def test_every_command_type_records_its_event(
    service: CommandService, app: CrmApplication, database_url: str
) -> None:
    referrer = register(service, "Referrer")
    result = service.handle(
        RegisterCustomer(name="Ann Lee", email="ann@example.com", referred_by=referrer), CTX
    )
    cid = result.customer_id
    assert (result.aggregate_id, result.version) == (cid, 1)
    assert app.repository.get(referrer).referrals == [cid]
    service.handle(ChangeContactDetails(customer_id=cid, phone="13800138000"), CTX)
    service.handle(TagCustomer(customer_id=cid, add=("VIP", "b2b"), remove=("b2b",)), CTX)
    service.handle(RecordContactTouch(customer_id=cid, channel="PHONE", summary="hi"), CTX)
    service.handle(RecordNeed(customer_id=cid, description="needs a quote"), CTX)
    service.handle(
        RecordPurchase(
            customer_id=cid,
            lines=(PurchaseLineInput(sku="A1", quantity=2, unit_price="10.50"),),
            currency="USD",
        ),
        CTX,
    )
    service.handle(MoveStage(customer_id=cid, to="QUALIFIED"), CTX)
    service.handle(AssignOwner(customer_id=cid, owner="bob"), CTX)
    service.handle(ChangeConsent(customer_id=cid, purpose="marketing", granted=True), CTX)
    service.handle(AnswerSatisfactionSurvey(customer_id=cid, survey_id="s1", score=5), CTX)
    filed = service.handle(
        FileComplaint(customer_id=cid, category="billing", severity="HIGH", description="x"), CTX
    )
    assert filed.customer_id == cid and filed.aggregate_id != cid
    escalated = service.handle(EscalateComplaint(complaint_id=filed.aggregate_id), CTX)
    resolved = service.handle(
        ResolveComplaint(complaint_id=filed.aggregate_id, resolution="refund", satisfaction=4), CTX
    )
    assert (escalated.version, resolved.version) == (2, 3)
    assert resolved.position is not None and escalated.position is not None
    assert resolved.position > escalated.position
    customer: Customer = app.repository.get(cid)
    assert customer.phone == "+8613800138000" and customer.tags == ["vip"]
    assert customer.purchase_total_cny == Decimal("149.10") and customer.stage == "QUALIFIED"
    assert customer.version == 11
    commands = {
        row[0]
        for row in psycopg.connect(database_url).execute("SELECT command FROM crm_event_meta")
    }
    assert {"RegisterCustomer", "ResolveComplaint", "AnswerSatisfactionSurvey"} <= commands


def test_result_points_at_the_last_event_of_the_command(
    service: CommandService, database_url: str
) -> None:
    cid = register(service)
    filed = service.handle(
        FileComplaint(
            customer_id=cid,
            category="safety",
            severity="CRITICAL",
            description="smoke",
            idempotency_key="critical",
        ),
        CTX,
    )
    assert filed.version == 2  # filed, then escalated automatically
    assert filed.position == scalar(database_url, "SELECT max(notification_id) FROM stored_events")
    assert scalar(database_url, "SELECT position FROM crm_idempotency") == filed.position


def test_context_can_be_built_positionally() -> None:
    correlation = uuid4()
    context = CommandContext("bob", correlation, None)
    assert (context.actor, context.correlation_id, context.causation_id) == (
        "bob",
        correlation,
        None,
    )


def test_position_of_a_no_op_is_none_and_version_unchanged(service: CommandService) -> None:
    cid = register(service)
    service.handle(AssignOwner(customer_id=cid, owner="bob"), CTX)
    again = service.handle(AssignOwner(customer_id=cid, owner="bob"), CTX)
    assert (again.version, again.position) == (2, None)


def test_occurred_at_is_business_time_and_must_be_aware(
    service: CommandService, app: CrmApplication
) -> None:
    past = datetime(2024, 5, 1, 8, 0, tzinfo=UTC) + timedelta(hours=0)
    cid = service.handle(RegisterCustomer(name="Ann", occurred_at=past), CTX).customer_id
    assert app.repository.get(cid).created_on == past
    with pytest.raises(ValidationFailed) as caught:
        service.handle(
            RecordContactTouch(customer_id=cid, channel="PHONE", occurred_at=datetime(2024, 5, 2)),
            CTX,
        )
    assert caught.value.field == "occurredAt"


def test_unknown_ids_are_not_found(service: CommandService) -> None:
    with pytest.raises(NotFound) as caught:
        service.handle(AssignOwner(customer_id=uuid4(), owner="bob"), CTX)
    assert caught.value.field == "customerId"
    cid = register(service)
    complaint = service.handle(
        FileComplaint(customer_id=cid, category="c", severity="LOW", description="d"), CTX
    ).aggregate_id
    with pytest.raises(NotFound):  # a complaint id is not a customer id
        service.handle(AssignOwner(customer_id=complaint, owner="bob"), CTX)
    with pytest.raises(NotFound) as caught:
        service.handle(ResolveComplaint(complaint_id=cid, resolution="r"), CTX)
    assert caught.value.field == "complaintId"
    with pytest.raises(NotFound) as caught:
        service.handle(RegisterCustomer(name="B", referred_by=uuid4()), CTX)
    assert caught.value.field == "referredBy"


def test_registering_a_taken_customer_id_is_a_conflict(service: CommandService) -> None:
    cid = uuid4()
    service.handle(RegisterCustomer(name="A", customer_id=cid), CTX)
    with pytest.raises(Conflict) as caught:
        service.handle(RegisterCustomer(name="B", customer_id=cid), CTX)
    assert caught.value.field == "customerId"


# -- expected versions ------------------------------------------------------------------------


def test_stale_expected_version_is_a_conflict(service: CommandService, database_url: str) -> None:
    cid = register(service)
    ok = service.handle(AssignOwner(customer_id=cid, owner="bob", expected_version=1), CTX)
    assert ok.version == 2
    before = event_count(database_url)
    with pytest.raises(Conflict) as caught:
        service.handle(AssignOwner(customer_id=cid, owner="eve", expected_version=1), CTX)
    assert (caught.value.code, caught.value.field) == ("CONFLICT", "expectedVersion")
    assert event_count(database_url) == before
    with pytest.raises(Conflict):
        service.handle(RegisterCustomer(name="X", expected_version=3), CTX)


# -- idempotency ------------------------------------------------------------------------------


def test_idempotent_retry_records_nothing_even_after_restart(
    service: CommandService, database_url: str, master_key: str
) -> None:
    command = RegisterCustomer(name="Ann", email="ann@example.com", idempotency_key="import-1")
    first = service.handle(command, CTX)
    assert service.handle(command, CTX) == first
    before = event_count(database_url)
    restarted = CrmApplication(database_url, master_key=master_key, pool_size=1)
    try:
        again = CommandService(restarted).handle(command, CTX)
    finally:
        restarted.close()
    assert again == first
    assert event_count(database_url) == before
    touch = RecordContactTouch(customer_id=first.customer_id, channel="WECHAT", idempotency_key="t")
    assert service.handle(touch, CTX) == service.handle(touch, CTX)
    assert scalar(database_url, "SELECT count(*) FROM crm_idempotency") == 2


def test_idempotency_key_of_another_command_type_is_a_mismatch(service: CommandService) -> None:
    cid = register(service)
    service.handle(AssignOwner(customer_id=cid, owner="bob", idempotency_key="k"), CTX)
    with pytest.raises(IdempotencyMismatch) as caught:
        service.handle(MoveStage(customer_id=cid, to="WON", idempotency_key="k"), CTX)
    assert caught.value.field == "idempotencyKey"


def test_failed_command_does_not_burn_its_key(service: CommandService) -> None:
    cid = register(service)
    with pytest.raises(RuleViolated):
        service.handle(MoveStage(customer_id=cid, to="LEAD", idempotency_key="m"), CTX)
    moved = service.handle(MoveStage(customer_id=cid, to="CONTACTED", idempotency_key="m"), CTX)
    assert moved.version == 2


# -- emails -----------------------------------------------------------------------------------


def test_email_is_unique_among_live_customers(service: CommandService) -> None:
    a = register(service, email="ann@example.com")
    with pytest.raises(Conflict) as caught:
        register(service, "Other", email=" ANN@example.com")
    assert (caught.value.code, caught.value.field) == ("CONFLICT", "email")
    b = register(service, "Bea", email="bea@example.com")
    with pytest.raises(Conflict):
        service.handle(ChangeContactDetails(customer_id=b, email="ann@example.com"), CTX)
    # Changing moves the reservation: the old address is free, the new one taken.
    service.handle(ChangeContactDetails(customer_id=a, email="ann@new.example.com"), CTX)
    service.handle(ChangeContactDetails(customer_id=b, email="ann@example.com"), CTX)
    with pytest.raises(Conflict):
        register(service, "Third", email="ann@new.example.com")
    # Clearing releases it.
    service.handle(ChangeContactDetails(customer_id=a, email=None), CTX)
    register(service, "Fourth", email="ann@new.example.com")


# -- forgetting -------------------------------------------------------------------------------


def test_forgetting_erases_and_closes_the_customer(
    service: CommandService, app: CrmApplication, database_url: str, master_key: str
) -> None:
    cid = register(service, "Wang Fang", email="wang@example.com", phone="13700001111")
    service.handle(RecordContactTouch(customer_id=cid, channel="PHONE", summary="secret"), CTX)
    complaint = service.handle(
        FileComplaint(customer_id=cid, category="c", severity="LOW", description="private"), CTX
    ).aggregate_id
    before = [
        app.notification_state(n)["name"]
        for n in app.recorder.select_notifications(start=None, limit=1)
    ]
    assert before == ["Wang Fang"]  # the key is cached in this process now
    service.handle(ForgetCustomer(customer_id=cid, reason="GDPR request"), CTX)
    after = [
        app.notification_state(n)["name"]
        for n in app.recorder.select_notifications(start=None, limit=1)
    ]
    assert after == [None]  # ...and never used again once the forget committed

    assert (
        scalar(database_url, "SELECT count(*) FROM crm_customer_keys WHERE customer_id=%s", cid)
        == 0
    )
    customer: Customer = app.repository.get(cid)
    assert customer.forgotten and (customer.name, customer.email, customer.phone) == (None,) * 3
    fresh = CrmApplication(database_url, master_key=master_key, pool_size=1)
    try:
        states = [
            fresh.notification_state(n)
            for n in fresh.recorder.select_notifications(start=None, limit=50)
        ]
    finally:
        fresh.close()
    personal = [
        s[f] for s in states for f in ("name", "email", "phone", "summary", "description") if f in s
    ]
    assert personal and all(value is None for value in personal)

    for command, field in (
        (RecordContactTouch(customer_id=cid, channel="PHONE"), "customerId"),
        (TagCustomer(customer_id=cid, add=("x",)), "customerId"),
        (ResolveComplaint(complaint_id=complaint, resolution="done"), "complaintId"),
        (EscalateComplaint(complaint_id=complaint), "complaintId"),
        (
            FileComplaint(customer_id=cid, category="c", severity="LOW", description="d"),
            "customerId",
        ),
        (ForgetCustomer(customer_id=cid, reason="again"), "customerId"),
    ):
        with pytest.raises(RuleViolated) as refused:
            service.handle(command, CTX)
        assert refused.value.field == field, command
    register(service, "Somebody else", email="wang@example.com")


def test_forgetting_a_survivor_erases_every_customer_merged_into_it(
    service: CommandService, app: CrmApplication, database_url: str
) -> None:
    """A merge said the records are one person: erasing the survivor erases the
    duplicates too (each its own key), and a duplicate can be erased on its own."""
    survivor = register(service, "Zhang Bo", phone="13700002222")
    duplicate = register(service, "Zhang B.", phone="15736277803")
    older = register(service, "Z. Bo", email="zb@example.com")
    service.handle(MergeCustomers(survivor_id=duplicate, duplicate_id=older), CTX)
    service.handle(MergeCustomers(survivor_id=survivor, duplicate_id=duplicate), CTX)
    service.handle(ForgetCustomer(customer_id=survivor, reason="erasure request"), CTX)
    for cid in (survivor, duplicate, older):
        customer: Customer = app.repository.get(cid)
        assert customer.forgotten and (customer.name, customer.phone) == (None, None), cid
        keys = "SELECT count(*) FROM crm_customer_keys WHERE customer_id=%s"
        assert scalar(database_url, keys, cid) == 0, "its key is destroyed"

    alone = register(service, "Li Na")
    merged = register(service, "Li N.", email="lina@example.com")
    service.handle(MergeCustomers(survivor_id=alone, duplicate_id=merged), CTX)
    service.handle(ForgetCustomer(customer_id=merged, reason="erasure request"), CTX)
    assert app.repository.get(merged).forgotten
    assert not app.repository.get(alone).forgotten, "the survivor is not erased by it"


def test_complaint_write_racing_a_forget_is_refused_at_commit(
    service: CommandService, app: CrmApplication, database_url: str, master_key: str
) -> None:
    """Another process forgets while this one still has the key cached."""
    cid = register(service, "Racer")
    complaint = service.handle(
        FileComplaint(customer_id=cid, category="c", severity="LOW", description="d"), CTX
    ).aggregate_id
    other = CrmApplication(database_url, master_key=master_key, pool_size=1)
    try:
        CommandService(other).handle(ForgetCustomer(customer_id=cid, reason="r"), CTX)
    finally:
        other.close()
    assert not app.keys.is_forgotten(cid)  # this process has not heard yet
    with pytest.raises(RuleViolated):
        service.handle(ResolveComplaint(complaint_id=complaint, resolution="r"), CTX)


# -- merging ----------------------------------------------------------------------------------


def test_merge_closes_duplicate_and_frees_its_email(
    service: CommandService, app: CrmApplication, database_url: str
) -> None:
    survivor = register(service, "Ann", email="ann@example.com")
    duplicate = register(service, "Ann L.", email="ann.l@example.com")
    result = service.handle(MergeCustomers(survivor_id=survivor, duplicate_id=duplicate), CTX)
    assert (result.aggregate_id, result.version) == (survivor, 2)
    assert app.repository.get(duplicate).merged_into == survivor
    assert app.repository.get(survivor).merged_duplicates == [duplicate]
    positions = [
        row[0]
        for row in psycopg.connect(database_url).execute(
            "SELECT m.position FROM crm_event_meta m WHERE m.command = 'MergeCustomers' ORDER BY 1"
        )
    ]
    assert len(positions) == 2 and positions[1] == positions[0] + 1
    assert result.position == positions[1]
    with pytest.raises(RuleViolated):
        service.handle(AssignOwner(customer_id=duplicate, owner="bob"), CTX)
    with pytest.raises(RuleViolated):
        service.handle(MergeCustomers(survivor_id=duplicate, duplicate_id=survivor), CTX)
    with pytest.raises(RuleViolated):
        service.handle(MergeCustomers(survivor_id=survivor, duplicate_id=survivor), CTX)
    register(service, "New", email="ann.l@example.com")


def test_merge_is_all_or_nothing(service: CommandService, app: CrmApplication) -> None:
    survivor = register(service, "Ann", email="ann@example.com")
    duplicate = register(service, "Ann L.")
    with pytest.raises(Conflict):
        service.handle_many(
            [
                MergeCustomers(survivor_id=survivor, duplicate_id=duplicate),
                RegisterCustomer(name="Clash", email="ann@example.com"),
            ],
            CTX,
        )
    assert app.repository.get(duplicate).merged_into is None
    assert app.repository.get(survivor).version == 1


# -- batches ----------------------------------------------------------------------------------


def test_handle_many_records_a_batch_in_one_transaction(
    service: CommandService, app: CrmApplication, database_url: str
) -> None:
    ids = [uuid4() for _ in range(20)]
    commands: list[object] = []
    for i, cid in enumerate(ids):
        commands.append(RegisterCustomer(name=f"C{i}", email=f"c{i}@example.com", customer_id=cid))
        commands.append(TagCustomer(customer_id=cid, add=("imported",)))
    commands.append(MergeCustomers(survivor_id=ids[0], duplicate_id=ids[1]))
    commands.append(RegisterCustomer(name="Reuse", email="c1@example.com", idempotency_key="r"))
    commands.append(RegisterCustomer(name="Reuse", email="c1@example.com", idempotency_key="r"))
    results = service.handle_many(commands, CTX)  # type: ignore[arg-type]
    assert len(results) == len(commands)
    assert results[-1] == results[-2]
    assert [r.version for r in results[:4]] == [1, 2, 1, 2]
    positions = [r.position for r in results if r.position is not None]
    assert positions == sorted(positions)
    assert event_count(database_url) == 20 * 2 + 2 + 1
    assert scalar(database_url, "SELECT count(DISTINCT xmin::text) FROM stored_events") == 1
    assert app.repository.get(ids[5]).tags == ["imported"]


def test_handle_many_is_all_or_nothing_and_names_the_failing_command(
    service: CommandService, database_url: str
) -> None:
    cid = uuid4()
    with pytest.raises(RuleViolated) as caught:
        service.handle_many(
            [
                RegisterCustomer(name="A", customer_id=cid),
                AssignOwner(customer_id=cid, owner="bob"),
                MoveStage(customer_id=cid, to="LEAD"),  # already at LEAD
            ],
            CTX,
        )
    assert caught.value.command_index == 2  # type: ignore[attr-defined]
    assert event_count(database_url) == 0
