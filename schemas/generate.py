"""Generate the published contracts from the code: one JSON Schema per event type and
version (named by its CloudEvents type) and the Kafka envelope schema.

The files in `schemas/events/` are committed; `tests/unit/test_schemas.py` fails when
the code and the files disagree, and `crm schemas export` rewrites them.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any, Final, Union
from uuid import UUID

from events import ALL_EVENTS, CrmEvent

SCHEMAS_DIR = Path(__file__).parent
EVENTS_DIR = SCHEMAS_DIR / "events"
ENVELOPE_FILE = SCHEMAS_DIR / "envelope.json"
DRAFT = "https://json-schema.org/draft/2020-12/schema"
ID_BASE = "https://schemas.crm.local"

# Fields every stored event has; the envelope carries them (stream, version, time).
ENVELOPE_FIELDS = frozenset(
    {"originator_id", "originator_version", "timestamp", "originator_topic"}
)

DEFS: dict[str, Any] = {
    "decimal": {"type": "string", "pattern": r"^-?\d+(\.\d+)?$"},
}


def _json_type(annotation: Any) -> dict[str, Any]:
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        inner = (
            _json_type(options[0])
            if len(options) == 1
            else {"anyOf": [_json_type(a) for a in options]}
        )
        return {"anyOf": [inner, {"type": "null"}]}
    if origin is list:
        (item,) = typing.get_args(annotation) or (Any,)
        return {"type": "array", "items": _json_type(item)}
    if origin is dict:
        return {"type": "object"}
    simple: dict[Any, dict[str, Any]] = {
        str: {"type": "string"},
        int: {"type": "integer"},
        bool: {"type": "boolean"},
        UUID: {"type": "string", "format": "uuid"},
        Any: {},
    }
    if annotation in simple:
        return dict(simple[annotation])
    raise TypeError(f"no JSON Schema mapping for {annotation!r}")


SEALED_ON_THE_WIRE: Final = {"type": "string", "pattern": "^sealed:"}
"""A personal field as the relay publishes it: sealed under the customer's key
(`streams.source`), whatever its type in clear."""


def _personal(schema: dict[str, Any]) -> dict[str, Any]:
    """A personal field's schema: its type in clear, or sealed (a text one is text either
    way; a list of values, a custom field's TEXT values, is a sealed string on the wire)."""
    note = "personal data: null once the customer is forgotten"
    branches = schema.get("anyOf", [schema])
    if any(b.get("type") == "string" for b in branches):
        return {**schema, "description": note}
    return {"anyOf": [*branches, SEALED_ON_THE_WIRE], "description": note}


def data_fields(cls: type[CrmEvent]) -> list[str]:
    """The event's own fields, in declaration order (what goes in the envelope's `data`)."""
    return [f.name for f in dataclasses.fields(cls) if f.name not in ENVELOPE_FIELDS]


def event_schema(cls: type[CrmEvent], version: int) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name in data_fields(cls):
        if cls.ADDED_IN.get(name, 1) > version:
            continue
        schema = cls.FIELD_SCHEMAS.get(name) or _json_type(hints[name])
        if name in cls.PERSONAL:
            schema = _personal(schema)
        properties[name] = schema
        required.append(name)
    cloudevents_type = f"{cls.TYPE}.v{version}"
    return {
        "$schema": DRAFT,
        "$id": f"{ID_BASE}/events/{cloudevents_type}.json",
        "title": f"{cls.__name__} v{version}",
        "description": (cls.__doc__ or cls.__name__).strip().splitlines()[0],
        "x-cloudevents-type": cloudevents_type,
        "x-personal-fields": [f for f in cls.PERSONAL if f in properties],
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
        "$defs": DEFS,
    }


def envelope_schema() -> dict[str, Any]:
    """CloudEvents 1.0 structured mode, with the platform's extension attributes."""
    string = {"type": "string", "minLength": 1}
    return {
        "$schema": DRAFT,
        "$id": f"{ID_BASE}/envelope.json",
        "title": "CRM event envelope (CloudEvents 1.0, structured JSON)",
        "type": "object",
        "required": [
            "specversion",
            "id",
            "type",
            "source",
            "subject",
            "time",
            "datacontenttype",
            "data",
            "position",
            "stream",
            "version",
            "recordedat",
        ],
        "properties": {
            "specversion": {"const": "1.0"},
            "id": {"type": "string", "format": "uuid"},
            "type": {"type": "string", "pattern": r"^crm\.[a-z_]+\.[a-z_]+\.v\d+$"},
            "source": string,
            "subject": {
                "type": "string",
                "format": "uuid",
                "description": "the customer id; also the message key",
            },
            "time": {"type": "string", "format": "date-time", "description": "business time"},
            "datacontenttype": {"const": "application/json"},
            "data": {"type": "object"},
            "position": {
                "type": "integer",
                "minimum": 1,
                "description": "global position in the event store",
            },
            "stream": {"type": "string", "format": "uuid", "description": "aggregate id"},
            "version": {"type": "integer", "minimum": 1, "description": "aggregate version"},
            "recordedat": {"type": "string", "format": "date-time"},
            "actor": {"type": ["string", "null"]},
            "correlationid": {"type": ["string", "null"]},
            "causationid": {"type": ["string", "null"]},
        },
        "additionalProperties": False,
    }


def all_schemas() -> dict[str, dict[str, Any]]:
    """File name → schema, for every event type and every version up to the current one."""
    files: dict[str, dict[str, Any]] = {}
    for cls in ALL_EVENTS:
        for version in range(1, getattr(cls, "class_version", 1) + 1):
            files[f"events/{cls.TYPE}.v{version}.json"] = event_schema(cls, version)
    files["envelope.json"] = envelope_schema()
    return files


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def export(target: Path = SCHEMAS_DIR) -> list[Path]:
    """Write every schema file; remove event schemas that no longer exist in the code."""
    written: list[Path] = []
    wanted = all_schemas()
    (target / "events").mkdir(parents=True, exist_ok=True)
    for name, schema in wanted.items():
        path = target / name
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    for stale in (target / "events").glob("*.json"):
        if f"events/{stale.name}" not in wanted:
            stale.unlink()
    return written


def differences(target: Path = SCHEMAS_DIR) -> list[str]:
    """Names of files that are missing, stale or differ from what the code generates."""
    wanted = all_schemas()
    problems = [
        name
        for name, schema in wanted.items()
        if not (target / name).exists()
        or (target / name).read_text(encoding="utf-8") != render(schema)
    ]
    problems += [
        f"events/{p.name} (no such event in the code)"
        for p in (target / "events").glob("*.json")
        if f"events/{p.name}" not in wanted
    ]
    return problems
