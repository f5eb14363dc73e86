"""Merging duplicates and forgetting (RULES.md "Merging duplicates", "Forgetting")."""

from __future__ import annotations

from collections.abc import Callable
from uuid import uuid4

import pytest

from aggregates import Customer
from events import CustomerForgotten, CustomerMerged, DuplicateMerged
from tests.unit.support.aggregates import (
    POLICY,
    later,
    line,
    new_customer,
    only_event,
    refused,
)


def merged_pair() -> tuple[Customer, Customer]:
    survivor, duplicate = new_customer(), new_customer()
    duplicate.merge_into(survivor, at=later())
    survivor.collect_events()
    duplicate.collect_events()
    return survivor, duplicate


def forgotten() -> Customer:
    customer = new_customer(email="a@example.com", phone="13800138000")
    customer.forget(reason="erasure request", at=later())
    customer.collect_events()
    return customer


def test_merge_records_merged_on_duplicate_and_duplicate_merged_on_survivor() -> None:
    survivor, duplicate = new_customer(), new_customer()
    duplicate.merge_into(survivor, at=later())
    on_duplicate, on_survivor = only_event(duplicate), only_event(survivor)
    assert isinstance(on_duplicate, CustomerMerged)
    assert (on_duplicate.originator_id, on_duplicate.survivor_id) == (duplicate.id, survivor.id)
    assert isinstance(on_survivor, DuplicateMerged)
    assert (on_survivor.originator_id, on_survivor.duplicate_id) == (survivor.id, duplicate.id)
    assert on_duplicate.timestamp == on_survivor.timestamp == later()
    assert duplicate.merged_into == survivor.id
    assert duplicate.is_closed
    assert survivor.merged_duplicates == [duplicate.id]
    assert not survivor.is_closed


def test_merging_a_customer_into_itself_is_refused() -> None:
    customer = new_customer()
    with refused("RULE", "survivorId", customer):
        customer.merge_into(customer, at=later())


def test_merging_into_a_merged_customer_is_refused() -> None:
    _, merged = merged_pair()
    other = new_customer()
    with refused("RULE", "survivorId", other):
        other.merge_into(merged, at=later(2))
    assert merged.collect_events() == []


def test_merging_into_a_forgotten_customer_is_refused() -> None:
    gone = forgotten()
    other = new_customer()
    with refused("RULE", "survivorId", other):
        other.merge_into(gone, at=later(2))


def test_a_merged_duplicate_cannot_be_merged_again() -> None:
    _, duplicate = merged_pair()
    with refused("RULE", "duplicateId", duplicate):
        duplicate.merge_into(new_customer(), at=later(2))


def test_a_forgotten_customer_cannot_be_merged() -> None:
    gone = forgotten()
    with refused("RULE", "duplicateId", gone):
        gone.merge_into(new_customer(), at=later(2))


def test_forget_records_the_reason_and_drops_personal_data() -> None:
    customer = new_customer(email="a@example.com", phone="13800138000", company="ACME")
    customer.change_contact_details(address="1 Road", at=later())
    customer.collect_events()
    customer.forget(reason=" GDPR request ", at=later(2))
    event = only_event(customer)
    assert isinstance(event, CustomerForgotten)
    assert event.reason == "GDPR request"
    assert customer.forgotten
    assert customer.is_closed
    assert (customer.name, customer.email, customer.phone, customer.address) == (None,) * 4
    assert customer.company == "ACME"  # not personal data


def test_forget_needs_a_reason() -> None:
    customer = new_customer()
    with refused("VALIDATION", "reason", customer):
        customer.forget(reason="  ", at=later())


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("Zyxwvu Markername", "Zyxwvu Markername asked for deletion"),
        ("Zyxwvu Markername", "markername called: erase"),  # a part, any case
        ("王秘密", "王秘密本人要求删除"),  # no spaces in Chinese: anywhere
    ],
)
def test_the_reason_may_not_name_the_customer(name: str, reason: str) -> None:
    customer = new_customer(name=name)
    with refused("VALIDATION", "reason", customer):
        customer.forget(reason=reason, at=later())


@pytest.mark.parametrize(
    ("name", "reason"),
    [("Li Wei", "client asked for erasure"), ("Ann Weight", "weighted request"), ("王", "王女士")],
)
def test_a_reason_merely_sharing_letters_with_the_name_is_taken(name: str, reason: str) -> None:
    customer = new_customer(name=name)
    customer.forget(reason=reason, at=later())
    assert customer.forgotten


COMMANDS: dict[str, Callable[[Customer], None]] = {
    "change_contact_details": lambda c: c.change_contact_details(name="X", at=later(9)),
    "tag": lambda c: c.tag(["x"], at=later(9)),
    "untag": lambda c: c.untag(["x"], at=later(9)),
    "record_touch": lambda c: c.record_touch(channel="PHONE", at=later(9)),
    "record_need": lambda c: c.record_need(need_id="N", description="d", at=later(9)),
    "record_purchase": lambda c: c.record_purchase(
        order_id="O", lines=[line()], policy=POLICY, at=later(9)
    ),
    "move_stage": lambda c: c.move_stage(to="CONTACTED", at=later(9)),
    "assign_owner": lambda c: c.assign_owner(owner="bob", at=later(9)),
    "change_consent": lambda c: c.change_consent(purpose="m", granted=True, at=later(9)),
    "answer_survey": lambda c: c.answer_survey(survey_id="S", score=5, at=later(9)),
    "record_referral": lambda c: c.record_referral(referred_customer_id=uuid4(), at=later(9)),
    "merge_into": lambda c: c.merge_into(new_customer(), at=later(9)),
    "forget": lambda c: c.forget(reason="again", at=later(9)),
}


FIELD: dict[str, str] = {"merge_into": "duplicateId"}
"""The input field naming the closed customer, where it is not `customerId`."""


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_on_a_forgotten_customer_is_refused(command: str) -> None:
    customer = forgotten()
    with refused("RULE", FIELD.get(command, "customerId"), customer):
        COMMANDS[command](customer)


@pytest.mark.parametrize("command", sorted(set(COMMANDS) - {"forget"}))
def test_every_command_on_a_merged_duplicate_is_refused(command: str) -> None:
    _, duplicate = merged_pair()
    with refused("RULE", FIELD.get(command, "customerId"), duplicate):
        COMMANDS[command](duplicate)


def test_a_merged_duplicate_can_still_be_forgotten() -> None:
    """Erasure is the person's right whatever was merged: the duplicate's stream keeps
    its own key and personal data until it is forgotten too."""
    _, duplicate = merged_pair()
    duplicate.forget(reason="erasure request", at=later(2))
    assert isinstance(only_event(duplicate), CustomerForgotten)
    assert duplicate.forgotten and duplicate.name is None


def test_the_survivor_stays_open_for_commands() -> None:
    survivor, _ = merged_pair()
    survivor.tag(["merged"], at=later(2))
    assert only_event(survivor).tags == ["merged"]
