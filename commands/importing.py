"""Customers from a spreadsheet, through the bulk path: `crm import customers FILE.csv`
and the gateway's `importCustomers` mutation share this core (the gateway may import
`commands`, never `ops`).

- **Encoding**: UTF-8 (with or without BOM), else GB18030 (what Excel on a Chinese
  Windows saves), detected by decoding unless the caller names one; anything else is
  refused naming the file. Almost any bytes decode as GB18030, so a guessed GB18030 must
  also read as Chinese (mostly GB2312's common characters): a Latin-1 file is refused,
  not imported as "J黵gen".
- **Headers**: the platform's field names (`name`, `email`, …), their common Chinese
  spellings (姓名, 邮箱, 手机, …), or any header mapped with ``--map 客户名称=name``.
- **Rules**: every row becomes a `RegisterCustomer` and goes through the command service's
  `handle_many` in batches, one transaction each (all or nothing: a crash leaves no half
  batch). A row the rules refuse is reported with its line number, code, field and reason,
  and the batch is retried without it.
- **Duplicates**: a row whose email is held by an existing customer (or an earlier row of
  the file) is reported as a duplicate and not inserted.
- **Idempotency**: a row's customer id and idempotency key are derived from the file's
  SHA-256 and the row's line number, so running the same file again records nothing: a
  row already imported is recognised (its email held by its own derived id, or its key).
"""

from __future__ import annotations

import csv
import hashlib
import io
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from aggregates.errors import DomainError
from aggregates.validation import normalize_email
from commands.application import CrmApplication
from commands.messages import CommandContext, RegisterCustomer

FIELDS: Final = ("name", "email", "phone", "company", "industry", "region", "source", "owner")
ALIASES: Final[Mapping[str, str]] = {
    "姓名": "name",
    "客户名称": "name",
    "名称": "name",
    "邮箱": "email",
    "电子邮件": "email",
    "手机": "phone",
    "电话": "phone",
    "手机号": "phone",
    "公司": "company",
    "行业": "industry",
    "地区": "region",
    "区域": "region",
    "来源": "source",
    "负责人": "owner",
}
CUSTOM: Final = "custom:"
"""A mapping target ``custom:KEY`` fills the custom field KEY (one value per cell)."""
BATCH: Final = 500
ACTOR: Final = "crm-import"
NAMESPACE: Final = uuid.UUID("6f1c1f2e-7d55-4f59-9a43-1c0ffee00016")


ENCODINGS: Final = ("utf-8", "gb18030")


class ImportRefused(ValueError):
    """The file as a whole cannot be read (encoding, no name column, unknown mapping).

    `field` names what to fix: ``file`` (the bytes), ``mapping`` (a mapping's target),
    ``encoding`` (a named encoding the bytes are not in)."""

    def __init__(self, message: str, field: str = "file", cli_hint: str = "") -> None:
        super().__init__(message)
        self.field = field
        self.cli_hint = cli_hint
        """What to type at the command line (``crm import``) to fix it; the API's
        message names its own argument instead."""


@dataclass(frozen=True)
class RowProblem:
    line: int
    code: str
    field: str | None
    reason: str


@dataclass
class ImportReport:
    rows: int = 0
    imported: int = 0
    already: int = 0
    duplicates: list[RowProblem] = field(default_factory=list)
    refused: list[RowProblem] = field(default_factory=list)
    encoding: str = "utf-8"


@dataclass(frozen=True)
class Row:
    line: int
    command: RegisterCustomer


@dataclass(frozen=True)
class Service:
    """What the importer needs of the command service and the store."""

    handle_many: Callable[[Sequence[RegisterCustomer], CommandContext], list[Any]]
    email_owner: Callable[[str], uuid.UUID | None]
    exists: Callable[[uuid.UUID], bool]


def decode(raw: bytes, encoding: str | None = None) -> tuple[str, str]:
    """The text and the encoding it was in: the named one, else UTF-8 first, then GB18030."""
    if encoding is not None and encoding not in ENCODINGS:
        raise ImportRefused(f"{encoding!r} is not one of {', '.join(ENCODINGS)}", "encoding")
    for name in (encoding,) if encoding else ENCODINGS:
        try:
            text = raw.decode("utf-8-sig" if name == "utf-8" else name)
        except UnicodeDecodeError:
            continue
        if encoding or name != "gb18030" or _reads_as_chinese(text):
            return text, name
    if encoding:
        raise ImportRefused(f"the file is not valid {encoding}", "encoding")
    raise ImportRefused("the file is neither UTF-8 nor GB18030")


def _reads_as_chinese(text: str) -> bool:
    """Whether GB18030 is the right guess: nearly any bytes decode as GB18030, a Latin-1
    or Windows-1252 file too ("Jürgen" comes out as "J黵gen"), but Chinese text is mostly
    GB2312's common characters, and such a file is mostly not."""
    wide = [c for c in text if ord(c) > 0x7F]
    common = sum(1 for c in wide if _in_gb2312(c))
    return not wide or common * 2 >= len(wide)


def _in_gb2312(character: str) -> bool:
    try:
        character.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def header_map(headers: Sequence[str], mapping: Mapping[str, str]) -> dict[str, str]:
    """Column header -> field name; unknown headers are ignored, `name` is required."""
    for target in mapping.values():
        if target not in FIELDS and not (target.startswith(CUSTOM) and target[len(CUSTOM) :]):
            raise ImportRefused(
                f"{target!r} is not one of {', '.join(FIELDS)} or custom:KEY", "mapping"
            )
    if not headers:
        raise ImportRefused("the file is empty: no header line")
    present = {header.strip() for header in headers}
    absent = [source for source in mapping if source not in present]
    if absent:  # a typo would leave the column out without a word
        raise ImportRefused(
            f"no column {absent[0]!r} in the file (its columns: {', '.join(sorted(present))})",
            "mapping",
        )
    found: dict[str, str] = {}
    for header in headers:
        key = header.strip()
        chosen = mapping.get(key) or ALIASES.get(key) or (key if key in FIELDS else None)
        if chosen is not None:
            found[header] = chosen
    if "name" not in found.values():
        raise ImportRefused(
            "no column maps to name: name one `name` (or 姓名), or map one to name",
            "mapping",
            "use --map HEADER=name",
        )
    return found


def read_rows(text: str, mapping: Mapping[str, str], digest: str) -> Iterator[Row]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        yield from _rows_of(reader, header_map(reader.fieldnames or [], mapping), digest)
    except csv.Error as error:  # a cell over the csv module's limit, a stray NUL, …
        line = reader.line_num + 1
        raise ImportRefused(f"line {line} is not CSV this can read: {error}") from None


def _rows_of(reader: csv.DictReader[str], columns: Mapping[str, str], digest: str) -> Iterator[Row]:
    for record in reader:
        values: dict[str, str | None] = dict.fromkeys(FIELDS)
        custom: list[tuple[str, str | tuple[str, ...] | None]] = []
        for header, target in columns.items():
            cell = (record.get(header) or "").strip() or None
            if target.startswith(CUSTOM):
                if cell is not None:  # an empty cell sets nothing (a required field: refused)
                    custom.append((target[len(CUSTOM) :], cell))
            else:
                values[target] = cell
        line = reader.line_num
        yield Row(
            line,
            RegisterCustomer(
                name=values["name"] or "",  # blank: refused by the rules, with its line
                email=values["email"],
                phone=values["phone"],
                company=values["company"],
                industry=values["industry"],
                region=values["region"],
                source=values["source"],
                owner=values["owner"],
                custom_fields=tuple(custom),
                customer_id=uuid.uuid5(NAMESPACE, f"{digest}:{line}"),
                idempotency_key=f"import:{digest[:32]}:{line}",
            ),
        )


def import_customers(
    raw: bytes,
    service: Service,
    *,
    mapping: Mapping[str, str] | None = None,
    encoding: str | None = None,
    batch: int = BATCH,
    progress: Callable[[int, int], None] | None = None,
    context: CommandContext | None = None,
) -> ImportReport:
    """Record the file's rows under `context` (the CLI's actor `crm-import`, or the
    gateway's caller)."""
    text, encoding = decode(raw, encoding)
    digest = hashlib.sha256(raw).hexdigest()
    rows = list(read_rows(text, mapping or {}, digest))
    report = ImportReport(rows=len(rows), encoding=encoding)
    context = context or CommandContext(actor=ACTOR)
    seen: dict[str, int] = {}  # email -> the line that took it (recorded)
    for start in range(0, len(rows), batch):
        pending = rows[start : start + batch]
        while pending:  # a row sharing an email with one being recorded waits for it
            chunk, pending = _fresh_rows(pending, service, seen, report, context.scope is None)
            refused_before = len(report.refused)
            _record(chunk, service, report, context)
            refused = {p.line for p in report.refused[refused_before:]}
            for email in [e for e, line in seen.items() if line in refused]:
                del seen[email]  # a refused row took no email: a later row may use it
        if progress:
            progress(min(start + batch, len(rows)), len(rows))
    return report


def _fresh_rows(
    rows: list[Row], service: Service, seen: dict[str, int], report: ImportReport, unscoped: bool
) -> tuple[list[Row], list[Row]]:
    """The rows to record now, and those whose email an earlier row of this pass takes
    (a duplicate of it if it is recorded, fresh if it is refused); the rest reported.
    A scoped caller is not told which customer has the email: that one may be outside
    the scope, whose ids do not leak (`registerCustomer` names none either)."""
    fresh: list[Row] = []
    waiting: list[Row] = []
    taking: set[str] = set()
    for row in rows:
        keep, email = _email_to_check(row, service, report)
        if not keep:
            continue
        if email is None:
            fresh.append(row)
        elif email in taking:
            waiting.append(row)
        elif email in seen or (owner := service.email_owner(email)) is not None:
            where = (
                f"line {seen[email]}"
                if email in seen
                else f"customer {owner}"
                if unscoped
                else "an existing customer"
            )
            report.duplicates.append(RowProblem(row.line, "DUPLICATE", "email", f"same as {where}"))
        else:
            seen[email] = row.line
            taking.add(email)
            fresh.append(row)
    return fresh, waiting


def _email_to_check(row: Row, service: Service, report: ImportReport) -> tuple[bool, str | None]:
    """Whether the row is still to record (not imported before, its email not refused),
    and its normalized email (None without one)."""
    assert row.command.customer_id is not None
    if service.exists(row.command.customer_id):
        report.already += 1
        return False, None
    if row.command.email is None:
        return True, None
    try:
        return True, normalize_email(row.command.email)
    except DomainError as error:
        report.refused.append(RowProblem(row.line, error.code, "email", error.message))
        return False, None


def _record(
    chunk: list[Row], service: Service, report: ImportReport, context: CommandContext
) -> None:
    """One transaction for the chunk; a refused row is reported and the rest retried."""
    while chunk:
        try:
            results = service.handle_many([r.command for r in chunk], context)
        except DomainError as error:
            index = getattr(error, "command_index", None)
            if index is not None:
                _refuse(chunk.pop(index), error, report)
                continue
            if len(chunk) == 1:
                _refuse(chunk[0], error, report)
                return
            for row in chunk:  # not attributable to one row (an email race): one by one
                _record([row], service, report, context)
            return
        report.imported += len(results)
        return


def _refuse(row: Row, error: DomainError, report: ImportReport) -> None:
    report.refused.append(RowProblem(row.line, error.code, error.field, error.message))


def store_service(
    app: CrmApplication,
    handle_many: Callable[[Sequence[RegisterCustomer], CommandContext], list[Any]],
) -> Service:
    """The importer's view of the event store: email reservations and existing streams."""
    return Service(
        handle_many=handle_many,
        email_owner=lambda email: app.crm_recorder.email_owner(app.email_digest(email)),
        exists=lambda cid: bool(app.recorder.select_events(cid, limit=1)),
    )
