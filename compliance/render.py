"""How ``crm audit`` prints: text for people, JSON and CSV for tools."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from compliance.access_log import AccessRecord
from compliance.audit import AsOf, AuditStep
from compliance.corruption import Corruption
from compliance.verify import ChainReport

FORMATS = ("text", "json", "csv")


def parse_time(text: str) -> datetime:
    """ISO 8601; a time without a zone is read as UTC (how the platform stores times)."""
    value = datetime.fromisoformat(text.strip())
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=False)


# -- replay -------------------------------------------------------------------------------

STEP_COLUMNS = (
    "position",
    "stream_kind",
    "stream_id",
    "version",
    "type",
    "occurred_at",
    "recorded_at",
    "actor",
    "correlation_id",
    "causation_id",
    "command",
    "data",
    "state",
    "changes",
    "corrupted",
)


def replay_text(steps: Sequence[AuditStep]) -> Iterable[str]:
    """One block per event; the state is shown as what changed in its stream, each
    field with its value before and after the event."""
    for step in steps:
        recorded = step.recorded_at.isoformat() if step.recorded_at else "-"
        yield (
            f"#{step.position}  {step.type}  {step.stream_kind} {step.stream_id} v{step.version}"
        )
        occurred = step.occurred_at.isoformat() if step.occurred_at else "-"
        yield f"    occurred {occurred}  recorded {recorded}"
        yield (
            f"    actor {step.actor or '-'}  command {step.command or '-'}  "
            f"correlation {step.correlation_id or '-'}  causation {step.causation_id or '-'}"
        )
        yield f"    data   {_json(step.data)}"
        for change in step.changes:
            yield f"    changed {change.field}: {_json(change.before)} -> {_json(change.after)}"
        for corruption in step.corrupted:
            yield f"    CORRUPTED  {corruption.message()}"


def replay_json(steps: Sequence[AuditStep]) -> str:
    return json.dumps([s.as_dict() for s in steps], ensure_ascii=False, indent=1)


def replay_csv(steps: Sequence[AuditStep]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(STEP_COLUMNS)
    for step in steps:
        row = step.as_dict()
        writer.writerow(
            [
                _json(row[c])
                if c in ("data", "state", "changes", "corrupted")
                else ("" if row[c] is None else row[c])
                for c in STEP_COLUMNS
            ]
        )
    return out.getvalue()


# -- as of ---------------------------------------------------------------------------------


def as_of_text(found: AsOf) -> Iterable[str]:
    customer = found.customer
    yield (
        f"customer {found.customer_id} as of {found.at.isoformat()} ({found.basis} time): "
        f"version {customer.version}, position {customer.position}"
    )
    for key, value in customer.state.items():
        yield f"    {key}: {_json(value)}"
    for complaint in found.complaints:
        yield (
            f"{complaint.kind} {complaint.stream_id}: version {complaint.version}, "
            f"position {complaint.position}"
        )
        for key, value in complaint.state.items():
            yield f"    {key}: {_json(value)}"
    for corruption in found.corrupted:
        yield f"CORRUPTED  {corruption.message()}"


def corruption_line(corrupted: Sequence[Corruption]) -> str:
    """The one closing line of a command that read past damaged values (exit 1)."""
    where = ", ".join(f"{c.position} ({c.field})" for c in corrupted)
    noun = "value" if len(corrupted) == 1 else "values"
    return (
        f"{len(corrupted)} corrupted {noun} in the event store at position {where}; "
        "shown as null, everything else is complete. `crm audit verify` names the "
        "altered events"
    )


# -- verify --------------------------------------------------------------------------------


def verify_lines(report: ChainReport) -> Iterable[str]:
    if report.unchained:
        yield (
            f"unchained prefix: {report.unchained} events up to position "
            f"{report.unchained_last}, recorded before the chain existed (not provable)"
        )
    if report.broken is not None:
        yield (
            f"BROKEN at position {report.broken.position} ({report.broken.kind}): "
            f"{report.broken.detail}"
        )
        if report.last_position is not None:
            yield f"last good position: {report.last_position}"
        return
    if report.checked == 0:
        yield "no chained events to verify"
        return
    yield (
        f"chain intact: {report.checked:,} events, positions {report.first_chained}.."
        f"{report.last_position}, in {report.seconds:.2f}s ({report.rate:,.0f} events/s)"
    )
    assert report.head_hash is not None
    yield f"head: position {report.last_position} hash {report.head_hash.hex()}"


# -- access ---------------------------------------------------------------------------------


def access_rows(records: Sequence[AccessRecord]) -> list[dict[str, Any]]:
    return [
        {
            "at": r.at.isoformat(),
            "actor": r.actor,
            "role": r.role,
            "customer_id": str(r.customer_id),
            "fields": list(r.fields),
            "operation": r.operation,
        }
        for r in records
    ]


def access_text(records: Sequence[AccessRecord]) -> Iterable[str]:
    if not records:
        yield "no reads of this customer's personal data are recorded"
    for r in records:
        yield (
            f"{r.at.isoformat()}  {r.actor} ({r.role})  {r.operation}  "
            f"fields: {', '.join(r.fields)}"
        )


def access_csv(records: Sequence[AccessRecord]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("at", "actor", "role", "customer_id", "fields", "operation"))
    for row in access_rows(records):
        writer.writerow(
            [
                *(row[k] for k in ("at", "actor", "role", "customer_id")),
                " ".join(row["fields"]),
                row["operation"],
            ]
        )
    return out.getvalue()
