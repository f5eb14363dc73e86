"""Notes on a customer: the rules of `Customer.add_note` and the sealed text."""

from __future__ import annotations

from commands.mapper import personal_fields
from events import NoteAdded
from tests.unit.support.aggregates import later, new_customer, only_event, refused


def test_a_note_keeps_its_text_and_id() -> None:
    customer = new_customer()
    customer.add_note(note_id="n-1", text=" call back\ton Monday\n", at=later())
    event = only_event(customer)
    assert isinstance(event, NoteAdded)
    assert (event.note_id, event.text, event.timestamp) == ("n-1", "call back\ton Monday", later())
    assert customer.note_ids == ["n-1"]


def test_the_text_is_sealed_per_customer() -> None:
    assert personal_fields(NoteAdded) == ("text",)


def test_an_empty_or_too_long_text_is_refused() -> None:
    customer = new_customer()
    with refused("VALIDATION", "text", customer):
        customer.add_note(note_id="n-1", text="   ", at=later())
    with refused("VALIDATION", "text", customer):
        customer.add_note(note_id="n-1", text="x" * 5001, at=later())
    with refused("VALIDATION", "text", customer):
        customer.add_note(note_id="n-1", text="hi\u202e", at=later())


def test_a_note_id_is_recorded_once() -> None:
    customer = new_customer()
    customer.add_note(note_id="n-1", text="first", at=later())
    customer.collect_events()
    with refused("RULE", "noteId", customer):
        customer.add_note(note_id="n-1", text="second", at=later(2))
    with refused("VALIDATION", "noteId", customer):
        customer.add_note(note_id="a@b.example", text="second", at=later(2))


def test_a_forgotten_customer_takes_no_note() -> None:
    customer = new_customer()
    customer.forget(reason="request", at=later())
    customer.collect_events()
    with refused("RULE", "customerId", customer):
        customer.add_note(note_id="n-2", text="too late", at=later(2))


def test_a_customer_snapshotted_before_notes_takes_notes() -> None:
    customer = new_customer()
    del customer.__dict__["note_ids"]  # as restored from an older snapshot
    customer.add_note(note_id="n-1", text="first", at=later())
    assert customer.note_ids == ["n-1"]
