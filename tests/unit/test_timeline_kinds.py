"""The timeline's vocabulary: every event type has a kind, a kind filter names every
stored version, and entry types agree on the type of a shared field name."""

from __future__ import annotations

from graphql import GraphQLObjectType, build_schema

from events import ALL_EVENTS, ORGANISATION_EVENTS, OwnerAssigned, PurchaseRecorded
from gateway.schema import build_schema as build_served
from projections.timeline_kinds import (
    CUSTOMER_EVENT_TYPES,
    KIND_OF_TYPE,
    TimelineKind,
    stored_types,
)


def test_every_event_type_has_a_kind_and_every_kind_an_event() -> None:
    assert set(KIND_OF_TYPE) == CUSTOMER_EVENT_TYPES
    assert {cls.TYPE for cls in ALL_EVENTS} > CUSTOMER_EVENT_TYPES
    assert not {cls.TYPE for cls in ORGANISATION_EVENTS} & set(KIND_OF_TYPE)
    assert set(KIND_OF_TYPE.values()) == set(TimelineKind)


def test_a_kind_filter_names_every_stored_version() -> None:
    assert stored_types([TimelineKind.PURCHASE]) == [
        f"{PurchaseRecorded.TYPE}.v1",
        f"{PurchaseRecorded.TYPE}.v2",
    ]
    assert f"{OwnerAssigned.TYPE}.v1" in stored_types([TimelineKind.OWNER_CHANGE])
    assert f"{OwnerAssigned.TYPE}.v2" in stored_types([TimelineKind.OWNER_CHANGE])
    assert stored_types([]) == []


def test_entry_types_agree_on_shared_field_names() -> None:
    schema = build_schema(build_served().as_str())
    entry = schema.get_type("TimelineEntry")
    types: dict[str, set[str]] = {}
    for named in schema.type_map.values():
        if isinstance(named, GraphQLObjectType) and entry in named.interfaces:
            for name, field in named.fields.items():
                types.setdefault(name, set()).add(str(field.type))
    clashes = {name: found for name, found in types.items() if len(found) > 1}
    assert clashes == {}, "one query selecting several entry types would be refused"
    assert len(
        [
            t
            for t in schema.type_map.values()
            if isinstance(t, GraphQLObjectType) and entry in t.interfaces
        ]
    ) == len(TimelineKind)
