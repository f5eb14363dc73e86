"""What the erasure's residue scan looks for: the customer's known values.

Two sources, both read from the event store (the system of record):

- `known_values`, while the key exists: every value the identifying fields (name,
  email, phone, address) ever had, plus every email address and phone number written
  inside the customer's other personal fields, i.e. its free texts (a touch's outcome
  "call back at ann@x.org", a complaint's description…), on the customer's stream and
  its complaints' streams.
  Free texts as a whole are not needles: common wordings ("no answer") recur in other
  customers' rows and would be reported as residue that is not theirs.
- `clear_residue`, with or without the key: what the stored events still hold in clear.
  A personal field stored unsealed (recorded before that field was sealed, e.g. a v2
  touch's `outcome`) is residue by itself and is reported where it sits; the contact
  data in it, and any email address in a clear field (a tag or an order id recorded
  before those were restricted, see `aggregates.labels`), become needles too, so the
  scan finds their copies elsewhere (the owner fields are the staff's, so skipped).
  This is what makes a second `forget` report what survives instead of "clean": the
  key is gone, but clear history is still readable.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import phonenumbers
from eventsourcing.utils import resolve_topic

from commands.application import CrmApplication
from commands.mapper import SEALED, personal_fields
from compliance.audit import customer_streams, replay
from compliance.residue import Finding

IDENTIFYING = ("name", "email", "phone", "address")
"""Fields whose values identify a person by themselves: needles as they are."""

STAFF_FIELDS = ("owner", "previous_owner")
"""The staff's data, not the customer's (an owner may be an email address): not needles."""

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
PHONE_REGION = "CN"  # numbers without a country code are read as mainland China (RULES)


def emails_in(text: str) -> list[str]:
    return _EMAIL.findall(text)


def phones_in(text: str) -> list[str]:
    """Phone numbers as written in the text (the form a copy of it would carry).

    Strict grouping: digits grouped as phone numbers are, so an order number such as
    ``SO-2025-000123`` is not taken for a landline."""
    matches = phonenumbers.PhoneNumberMatcher(
        text, PHONE_REGION, leniency=phonenumbers.Leniency.STRICT_GROUPING
    )
    return [m.raw_string for m in matches]


class Needles:
    """Labelled needles, each value once: ``email``, ``email#2``, ``outcome:phone``…"""

    def __init__(self) -> None:
        self.by_label: dict[str, str] = {}

    def add(self, label: str, value: str) -> None:
        value = value.strip()
        if not value or value.lower() in (v.lower() for v in self.by_label.values()):
            return
        index, name = 1, label
        while name in self.by_label:
            index += 1
            name = f"{label}#{index}"
        self.by_label[name] = value

    def add_contacts(self, label: str, text: str, *, phones: bool = True) -> None:
        for email in emails_in(text):
            self.add(f"{label}:email", email)
        for phone in phones_in(text) if phones else ():
            self.add(f"{label}:phone", phone)


def known_values(app: CrmApplication, customer_id: UUID) -> dict[str, str]:
    """The needles readable with the key (empty once the customer is forgotten)."""
    needles = Needles()
    steps = replay(app, customer_id)
    for step in steps:
        if step.stream_kind != "customer":
            continue
        for name in IDENTIFYING:
            value = step.data.get(name)
            if isinstance(value, str):
                needles.add(name, value)
    for step in steps:
        for name in step.personal_fields:
            if name not in IDENTIFYING:
                for text in _texts(step.data.get(name)):
                    needles.add_contacts(name, text)
    return needles.by_label


def clear_residue(app: CrmApplication, customer_id: UUID) -> tuple[list[Finding], dict[str, str]]:
    """Personal fields stored in clear (findings) and contact data in clear (needles)."""
    recorder = app.crm_recorder
    table = f"postgres:{recorder.datastore.schema}.{recorder.events_table_name}.state"
    transcoder = app.crm_mapper.transcoder
    findings: list[Finding] = []
    needles = Needles()
    for stream_id in customer_streams(app, customer_id):
        for stored in app.recorder.select_events(stream_id):
            state: dict[str, Any] = transcoder.decode(stored.state)
            state.pop(SEALED, None)
            personal = set(personal_fields(resolve_topic(stored.topic)))
            for name, value in state.items():
                if name in STAFF_FIELDS:
                    continue
                texts = list(_texts(value))
                if name in personal and texts:
                    where = f"{table} (stream {stream_id} v{stored.originator_version})"
                    findings.append(Finding(where, f"{name} (stored in clear)"))
                for text in texts:
                    # Phone numbers only where free text was expected: ids may be all digits.
                    needles.add_contacts(f"stored {name}", text, phones=name in personal)
    return findings, needles.by_label


def _texts(value: Any) -> Iterator[str]:
    """Every string inside a value (lists and objects walked: purchase lines, tags)."""
    if isinstance(value, str):
        if value.strip():
            yield value
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _texts(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _texts(item)
