"""Export for a data-subject request: everything the platform holds about one customer,
as one JSON document with a manifest and a checksum (``crm audit export``).

Sections:

- ``customer``: the current state of the customer and of its complaints (event store);
- ``events``: every event of the customer and its complaints, with position, business
  and recorded time, actor, correlation, causation, command and data (event store);
- ``store``: what the write side keeps besides events (key present or destroyed, email
  reserved or not, the streams), never the key itself;
- ``read_models``: the customer's rows in each PostgreSQL read model;
- ``analytics``: the customer's rows in the analytics files;
- ``access_log``: who read the customer's personal data, and when.

Damaged values (`compliance.corruption`): each event record lists its unreadable values
under ``corrupted`` (they are null in ``data``), and the manifest repeats them all under
``corrupted`` with their positions, so the recipient sees at once that the export is
complete except for those; ``crm audit export`` then exits 1.

Integrity: the manifest lists each section with its item count and the SHA-256 of its
canonical JSON (sorted keys, no whitespace, UTF-8); ``checksum`` is the SHA-256 of the
canonical JSON of the whole document without the ``checksum`` member. `verify_export`
recomputes both, so a recipient can check the file with nothing but this description.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from psycopg import sql

from commands.application import CrmApplication
from compliance import analytics
from compliance.access_log import access_history
from compliance.audit import customer_streams, replay
from compliance.corruption import Corruption
from compliance.readmodels import read_model_rows

FORMAT = "crm-subject-export/v1"
SECTIONS = ("customer", "events", "store", "read_models", "analytics", "access_log")


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest(value: Any) -> str:
    return hashlib.sha256(canonical(value)).hexdigest()


def _count(value: Any) -> int:
    if isinstance(value, list):
        return len(value)
    if isinstance(value, dict):
        return sum(len(v) if isinstance(v, list) else 1 for v in value.values())
    return 1


def _store_section(app: CrmApplication, customer_id: UUID, streams: list[UUID]) -> dict[str, Any]:
    recorder = app.crm_recorder
    statement = sql.SQL("SELECT count(*) AS n FROM {}.{} WHERE customer_id = %s").format(
        sql.Identifier(recorder.datastore.schema), sql.Identifier("crm_email_reservations")
    )
    with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
        curs.execute(statement, (customer_id,))
        row = curs.fetchone()
    return {
        "key": "present" if recorder.select_wrapped_keys([customer_id]) else "destroyed",
        "email_reserved": bool(row and row["n"]),
        "streams": [str(s) for s in streams],
    }


def build_export(
    app: CrmApplication,
    conninfo: str,
    customer_id: UUID,
    *,
    analytics_root: Path | None,
    generated_by: str,
) -> dict[str, Any]:
    """The export document (see module docstring). Raises `UnknownCustomer`."""
    steps = replay(app, customer_id)
    streams = customer_streams(app, customer_id)
    latest: dict[str, dict[str, Any]] = {}
    for step in steps:
        latest[str(step.stream_id)] = step.state
    events = []
    for step in steps:
        record = step.as_dict()
        record.pop("state")
        events.append(record)
    sections: dict[str, Any] = {
        "customer": {
            "state": latest[str(customer_id)],
            "complaints": [latest[str(s)] for s in streams[1:] if str(s) in latest],
        },
        "events": events,
        "store": _store_section(app, customer_id, streams),
        "read_models": read_model_rows(conninfo, customer_id),
        "analytics": analytics.export_rows(analytics_root, [customer_id])
        if analytics_root is not None
        else {},
        "access_log": [
            {
                "at": r.at.isoformat(),
                "actor": r.actor,
                "role": r.role,
                "fields": list(r.fields),
                "operation": r.operation,
            }
            for r in access_history(app, customer_id)
        ],
    }
    manifest = {
        "format": FORMAT,
        "customer_id": str(customer_id),
        "generated_at": datetime.now(UTC).isoformat(),
        "generated_by": generated_by,
        "event_store_position": app.recorder.max_notification_id() or 0,
        "corrupted": [c.as_dict() for s in steps for c in s.corrupted],
        "sections": {
            name: {"items": _count(sections[name]), "sha256": digest(sections[name])}
            for name in SECTIONS
        },
        "checksum": "sha256 of the canonical JSON of this document without 'checksum'",
    }
    document: dict[str, Any] = {"manifest": manifest, **sections}
    document["checksum"] = digest(document)
    return document


def corrupted_of(document: dict[str, Any]) -> list[Corruption]:
    """The damaged values an export document lists in its manifest."""
    return [
        Corruption(
            position=int(c["position"]),
            stream_id=UUID(c["stream_id"]),
            version=int(c["version"]),
            type=str(c["type"]),
            field=str(c["field"]),
            reason=str(c["reason"]),
        )
        for c in document["manifest"].get("corrupted", [])
    ]


def personal_fields_read(document: dict[str, Any]) -> set[str]:
    """The personal fields the document's events carry readable (what its reader is
    logged as having read; none for a forgotten customer)."""
    return {
        f for e in document["events"] for f in e["personal_fields"] if e["data"].get(f) is not None
    }


def export_text(document: dict[str, Any]) -> str:
    """The document as the export file holds it (the console downloads the same text)."""
    return json.dumps(document, ensure_ascii=False, indent=1) + "\n"


def write_export(path: Path, document: dict[str, Any]) -> None:
    """Write the document (mode 0600: it holds personal data) atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(export_text(document))
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)  # it holds the whole document: never left behind
        raise


def verify_export(document: dict[str, Any]) -> list[str]:
    """Problems with an export document's integrity (empty: intact)."""
    problems = []
    body = {k: v for k, v in document.items() if k != "checksum"}
    if document.get("checksum") != digest(body):
        problems.append("checksum does not match the document")
    manifest = document.get("manifest") or {}
    for name, entry in (manifest.get("sections") or {}).items():
        if name not in document:
            problems.append(f"section {name} is missing")
        elif entry.get("sha256") != digest(document[name]):
            problems.append(f"section {name} does not match its manifest digest")
    return problems
