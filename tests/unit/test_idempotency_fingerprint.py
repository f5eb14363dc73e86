"""The fingerprint an idempotency key is bound to: equal exactly for the same request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from uuid import uuid4

import pytest

from commands.idempotency import IdempotencyMismatch, check_replay, fingerprint
from commands.messages import (
    ChangeContactDetails,
    MoveStage,
    PurchaseLineInput,
    RecordPurchase,
    TagCustomer,
)
from commands.recorder import StoredResult

CID = uuid4()
AT = datetime(2024, 5, 1, 8, tzinfo=UTC)


def purchase(price: Decimal | str, **fields: object) -> RecordPurchase:
    line = PurchaseLineInput(sku="A-1", quantity=2, unit_price=price)
    return RecordPurchase(customer_id=CID, lines=(line,), **fields)  # type: ignore[arg-type]


def test_the_key_itself_is_not_part_of_the_fingerprint() -> None:
    first = MoveStage(customer_id=CID, to="WON", idempotency_key="k1")
    assert fingerprint(first) == fingerprint(MoveStage(customer_id=CID, to="WON"))


def test_a_retry_without_occurred_at_matches_the_first_without_it() -> None:
    # The service stamps "now" later; the command as sent holds None both times.
    assert fingerprint(MoveStage(customer_id=CID, to="WON")) == fingerprint(
        MoveStage(customer_id=CID, to="WON")
    )


def test_the_same_instant_in_another_offset_is_the_same_request() -> None:
    shanghai = AT.astimezone(timezone(timedelta(hours=8)))
    assert fingerprint(MoveStage(customer_id=CID, to="WON", occurred_at=AT)) == fingerprint(
        MoveStage(customer_id=CID, to="WON", occurred_at=shanghai)
    )
    assert fingerprint(MoveStage(customer_id=CID, to="WON", occurred_at=AT)) != fingerprint(
        MoveStage(customer_id=CID, to="WON")
    )


def test_decimals_compare_by_value() -> None:
    assert fingerprint(purchase(Decimal("1999.00"))) == fingerprint(purchase(Decimal("1999.0")))
    assert fingerprint(purchase(Decimal("1999.00"))) != fingerprint(purchase(Decimal("1999.01")))


@pytest.mark.parametrize(
    "other",
    [
        MoveStage(customer_id=uuid4(), to="WON"),
        MoveStage(customer_id=CID, to="LOST"),
        MoveStage(customer_id=CID, to="WON", reason="price"),
        MoveStage(customer_id=CID, to="WON", expected_version=3),
        TagCustomer(customer_id=CID, add=("WON",)),
    ],
    ids=["customer", "stage", "reason", "expected-version", "type"],
)
def test_any_other_field_value_is_another_request(other: object) -> None:
    assert fingerprint(MoveStage(customer_id=CID, to="WON")) != fingerprint(other)  # type: ignore[arg-type]


def test_leaving_a_field_unchanged_differs_from_clearing_it() -> None:
    keep = ChangeContactDetails(customer_id=CID, name="Ann")
    clear = ChangeContactDetails(customer_id=CID, name="Ann", email=None)
    assert fingerprint(keep) != fingerprint(clear)


def stored(fingerprint_: str | None, command: str = "MoveStage") -> StoredResult:
    result = {"aggregate_id": str(CID), "customer_id": str(CID), "version": 2}
    return StoredResult(
        subject="ann",
        key="k",
        command=command,
        fingerprint=fingerprint_,
        result=result,
        position=7,
    )


def test_a_replay_needs_the_same_fingerprint() -> None:
    sent = MoveStage(customer_id=CID, to="WON")
    row = stored(fingerprint(sent))
    assert check_replay(row, sent, fingerprint(sent)) is row
    other = MoveStage(customer_id=CID, to="LOST")
    with pytest.raises(IdempotencyMismatch) as caught:
        check_replay(row, other, fingerprint(other))
    assert (caught.value.code, caught.value.field) == ("CONFLICT", "idempotencyKey")


def test_rows_stored_before_fingerprints_check_type_and_target() -> None:
    legacy = stored(None)
    same = MoveStage(customer_id=CID, to="LOST")  # the stage cannot be checked any more
    assert check_replay(legacy, same, fingerprint(same)) is legacy
    for refused in (
        MoveStage(customer_id=uuid4(), to="WON"),
        TagCustomer(customer_id=CID, add=("x",)),
    ):
        with pytest.raises(IdempotencyMismatch):
            check_replay(legacy, refused, fingerprint(refused))
