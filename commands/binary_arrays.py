"""Array parameters written straight into PostgreSQL's binary array format.

The save inserts each table set-based, one typed array per column (`unnest`). psycopg
dumps a Python list element by element through its list dumper (a type lookup over the
elements, a dumper call and two appends per element): 17% of a group-commit round's
CPU in a profile. The save's columns are flat lists of one known type each, so they
are encoded here in one pass: a header, then each element's length and bytes, as
PostgreSQL's ``array_recv`` reads them. A `BinaryArray` goes to the server as it is,
with its array type's OID (`psycopg.adapters` has a dumper for these classes,
registered on import, so every connection made afterwards has it).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import ClassVar, TypeVar
from uuid import UUID

import psycopg
from psycopg.abc import AdaptContext
from psycopg.adapt import Buffer, Dumper
from psycopg.pq import Format

_HEADER = struct.Struct(">iiiii")  # dimensions, has nulls, element OID, length, lower bound
_LENGTH = struct.Struct(">i")
_INT8 = struct.Struct(">iq")
_NULL = b"\xff\xff\xff\xff"
_UUID_LENGTH = _LENGTH.pack(16)


class BinaryArray(bytes):
    """A one-dimensional array already in PostgreSQL's binary format."""

    element_oid: ClassVar[int]
    array_oid: ClassVar[int]


class Int8Array(BinaryArray):
    element_oid, array_oid = 20, 1016


class TextArray(BinaryArray):
    element_oid, array_oid = 25, 1009


class ByteaArray(BinaryArray):
    element_oid, array_oid = 17, 1001


class UuidArray(BinaryArray):
    element_oid, array_oid = 2950, 2951


class TimestamptzArray(BinaryArray):
    element_oid, array_oid = 1184, 1185


class JsonbArray(BinaryArray):
    element_oid, array_oid = 3802, 3807


class BoolArray(BinaryArray):
    element_oid, array_oid = 16, 1000


class Int4Array(BinaryArray):
    element_oid, array_oid = 23, 1007


A = TypeVar("A", bound=BinaryArray)


def _array(cls: type[A], count: int, has_nulls: bool, body: bytes) -> A:
    return cls(_HEADER.pack(1, int(has_nulls), cls.element_oid, count, 1) + body)


def int8_array(values: Sequence[int | None]) -> Int8Array:
    pack = _INT8.pack
    parts = [_NULL if v is None else pack(8, v) for v in values]
    return _array(Int8Array, len(values), None in values, b"".join(parts))


def _varlena(values: Iterable[bytes | None]) -> tuple[bytes, bool]:
    parts: list[bytes] = []
    has_nulls = False
    pack = _LENGTH.pack
    for value in values:
        if value is None:
            parts.append(_NULL)
            has_nulls = True
        else:
            parts.append(pack(len(value)))
            parts.append(value)
    return b"".join(parts), has_nulls


def bytea_array(values: Sequence[bytes | None]) -> ByteaArray:
    body, has_nulls = _varlena(values)
    return _array(ByteaArray, len(values), has_nulls, body)


def text_array(values: Sequence[str | None]) -> TextArray:
    body, has_nulls = _varlena([None if v is None else v.encode() for v in values])
    return _array(TextArray, len(values), has_nulls, body)


def uuid_array(values: Sequence[UUID | None]) -> UuidArray:
    has_nulls = None in values
    parts = [_NULL if v is None else _UUID_LENGTH + v.bytes for v in values]
    return _array(UuidArray, len(values), has_nulls, b"".join(parts))


_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_INT4 = struct.Struct(">ii")
_BOOL = {True: b"\x00\x00\x00\x01\x01", False: b"\x00\x00\x00\x01\x00"}
_JSONB_VERSION = b"\x01"


def timestamptz_array(values: Sequence[datetime | None]) -> TimestamptzArray:
    """Aware datetimes only: a naive one has no instant (the caller keeps psycopg's)."""
    pack = _INT8.pack
    parts = [_NULL if v is None else pack(8, (v - _EPOCH) // _MICROSECOND) for v in values]
    return _array(TimestamptzArray, len(values), None in values, b"".join(parts))


def jsonb_array(values: Sequence[bytes | None]) -> JsonbArray:
    """Each element's JSON text, already written (jsonb's binary form is a version byte
    and the text)."""
    body, has_nulls = _varlena([None if v is None else _JSONB_VERSION + v for v in values])
    return _array(JsonbArray, len(values), has_nulls, body)


def bool_array(values: Sequence[bool | None]) -> BoolArray:
    parts = [_NULL if v is None else _BOOL[bool(v)] for v in values]
    return _array(BoolArray, len(values), None in values, b"".join(parts))


def int4_array(values: Sequence[int | None]) -> Int4Array:
    pack = _INT4.pack
    parts = [_NULL if v is None else pack(4, v) for v in values]
    return _array(Int4Array, len(values), None in values, b"".join(parts))


class _Encoded(Dumper):
    """Sends a `BinaryArray` as it is. Its OID is set per instance, from the class it
    dumps: a dumper class with a fixed OID would also be registered by OID, and COPY
    (which picks dumpers by the OIDs of `set_types`) would hand it Python lists."""

    format = Format.BINARY

    def __init__(self, cls: type, context: AdaptContext | None = None) -> None:
        super().__init__(cls, context)
        self.oid = cls.array_oid if issubclass(cls, BinaryArray) else 0

    def dump(self, obj: Buffer) -> Buffer:
        return obj


for _cls in (
    Int8Array,
    TextArray,
    ByteaArray,
    UuidArray,
    TimestamptzArray,
    JsonbArray,
    BoolArray,
    Int4Array,
):
    psycopg.adapters.register_dumper(_cls, _Encoded)
