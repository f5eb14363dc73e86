"""The store's transcoder writes eventsourcing's JSON format with orjson: byte for byte
what the library's own transcoder writes, for every event shape a customer's story
records and for any JSON-like value; what orjson would write differently or the library
would refuse goes to the library's encoder."""

from __future__ import annotations

import enum
import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import JSONTranscoder, TranscodingNotRegisteredError
from hypothesis import given
from hypothesis import strategies as st

from commands.transcoder import crm_transcoder
from tests.unit.test_rebuild_source import story

FAST = crm_transcoder()
LIBRARY = JSONTranscoder()
for transcoding in FAST.types.values():
    LIBRARY.register(transcoding)


class Colour(enum.StrEnum):
    RED = "red"


@pytest.mark.parametrize("event", story(), ids=lambda e: type(e).__name__)
def test_every_event_state_is_written_as_the_library_writes_it(event: Any) -> None:
    state = dict(vars(event))
    written = FAST.encode(state)
    assert written == LIBRARY.encode(state)
    assert LIBRARY.decode(written) == state


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
    st.uuids(),
    st.datetimes(timezones=st.just(UTC)),
    st.decimals(allow_nan=False, allow_infinity=False),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(values)
def test_any_json_like_value_is_written_as_the_library_writes_it(value: Any) -> None:
    assert FAST.encode(value) == LIBRARY.encode(value)


@pytest.mark.parametrize(
    "value",
    [
        {"amount": math.nan},  # the library writes NaN; orjson would write null
        {"ratio": 1e-05},  # orjson would write 0.00001
        {"amount": -math.inf},
        {"big": 2**70},  # beyond orjson's 64 bits
        {1: "a key that is not a str"},
        {"colour": Colour.RED},  # a str subclass
        ("a", "tuple", UUID(int=7)),
        {"nested": [{"when": datetime(2026, 1, 2, tzinfo=UTC), "price": Decimal("9.90")}]},
    ],
    ids=repr,
)
def test_what_orjson_would_write_differently_is_the_librarys_output(value: Any) -> None:
    assert FAST.encode(value) == LIBRARY.encode(value)


def test_a_value_the_library_refuses_is_refused_the_same_way() -> None:
    with pytest.raises(TranscodingNotRegisteredError):
        FAST.encode({"when": datetime(2026, 1, 2).date()})
    with pytest.raises(UnicodeEncodeError):  # a lone surrogate is not UTF-8
        FAST.encode({"text": "\ud800"})


def test_registered_types_are_looked_up_by_their_exact_type() -> None:
    class Special(UUID):
        pass

    with pytest.raises(TranscodingNotRegisteredError):  # the library's rule: no subclasses
        FAST.encode(Special(int=1))
