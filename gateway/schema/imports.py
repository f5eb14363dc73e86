"""`importCustomers`: a CSV file uploaded from a UI, recorded like `crm import customers`.

The file travels as its bytes in base64 (`CsvFile`, what a browser's
``FileReader.readAsDataURL`` gives after the comma), inside an ordinary JSON POST, so the
bytes decide the encoding (UTF-8 or GB18030, detected or named) exactly as on the command
line. Why not the GraphQL multipart request (strawberry's `Upload`): starlette parses
multipart bodies with python-multipart, which the platform does not ship; and a
multipart POST is a "simple" cross-site request, so it would need its own CSRF guard
(a required preflight header), which a JSON POST with a bearer token does not.

Bounds: the whole POST body is at most `Limits.max_body_bytes` (1 MiB, 413 above it,
before authentication), so a file of about 750 KB (several thousand rows); bigger files
go through `crm import customers`. `CsvFile` variables are exempt from the 10,000-
character string bound of `gateway.hardening` (that bound is for text fields), not from
the body limit; a `CsvFile` literal in the query text is still bounded.

The rows go through `commands.importing` (the CLI's core): the bulk path in batches of
500, one transaction each, refused rows with line and reason, duplicates by email not
inserted, and the same file again records nothing new (ids and keys derived from the
file's SHA-256).
"""

from __future__ import annotations

import base64
import binascii
import enum
from collections.abc import Callable, Sequence
from typing import NewType

import strawberry
from anyio import to_thread
from strawberry.types import Info

from aggregates.errors import DomainError
from commands.importing import (
    FIELDS,
    ImportRefused,
    ImportReport,
    RowProblem,
    import_customers,
    store_service,
)
from commands.messages import CommandContext, CommandResult, RegisterCustomer
from commands.service import CommandService
from gateway.context import GatewayContext
from gateway.deps import GatewayDeps
from gateway.errors import from_domain, invalid
from gateway.roles import Permission

GInfo = Info[GatewayContext, None]
CSV_FILE_SCALAR = "CsvFile"


def parse_csv_file(value: object) -> bytes:
    if not isinstance(value, str):
        raise ValueError("CsvFile must be the file's bytes in base64")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("CsvFile is not valid base64") from None


CsvFile = strawberry.scalar(
    NewType(CSV_FILE_SCALAR, bytes),
    serialize=lambda value: base64.b64encode(value).decode(),
    parse_value=parse_csv_file,
    description="A file's bytes in base64 (standard alphabet, padded). Send it as a "
    "variable: a literal in the query text is bounded like any string.",
)


@strawberry.enum(description="The encoding of an imported file (detected when not given).")
class CsvEncoding(enum.Enum):
    UTF8 = "utf-8"
    GB18030 = "gb18030"


@strawberry.input(description="Read the column headed `header` as the customer's `field`.")
class HeaderMapping:
    header: str
    field: str = strawberry.field(
        description="One of " + ", ".join(FIELDS) + " (another is refused naming it)."
    )


@strawberry.input(description="A CSV file to register as customers, row by row.")
class ImportCustomersInput:
    file: CsvFile = strawberry.field(  # type: ignore[valid-type]
        description="The file's bytes in base64, a header row first."
    )
    mapping: list[HeaderMapping] | None = strawberry.field(
        default=None,
        description="Headers to read as fields, beside the known ones (name, 姓名, 邮箱, …).",
    )
    encoding: CsvEncoding | None = strawberry.field(
        default=None, description="UTF8 or GB18030; detected from the bytes when not given."
    )


@strawberry.type(description="One row not recorded: its line in the file and why.")
class ImportRowProblem:
    line: int
    code: str
    field: str | None
    reason: str


@strawberry.type(description="What became of each row of an imported file.")
class ImportCustomersPayload:
    rows: int = strawberry.field(description="Data rows in the file (the header not counted).")
    imported: int = strawberry.field(description="Customers registered by this upload.")
    already_imported: int = strawberry.field(
        description="Rows an earlier upload of the same file registered (nothing new)."
    )
    encoding: CsvEncoding
    duplicates: list[ImportRowProblem] = strawberry.field(
        description="Rows whose email an existing customer (or an earlier row) holds."
    )
    refused: list[ImportRowProblem] = strawberry.field(
        description="Rows the rules refused, with the code and field of the rule."
    )
    position: int = strawberry.field(
        description="Global position of the last event this upload recorded (for "
        "`atLeast`); the store's latest position when it recorded nothing."
    )


def _problems(found: Sequence[RowProblem]) -> list[ImportRowProblem]:
    return [
        ImportRowProblem(line=p.line, code=p.code, field=p.field, reason=p.reason) for p in found
    ]


def _mapping(given: Sequence[HeaderMapping] | None) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for index, item in enumerate(given or ()):
        where = f"mapping[{index}]"
        if not item.header.strip():
            raise invalid("a mapping needs a header", f"{where}.header")
        if item.field not in FIELDS:
            raise invalid(f"{item.field!r} is not one of {', '.join(FIELDS)}", f"{where}.field")
        mapping[item.header.strip()] = item.field
    return mapping


def _payload(report: ImportReport, position: int) -> ImportCustomersPayload:
    return ImportCustomersPayload(
        rows=report.rows,
        imported=report.imported,
        already_imported=report.already,
        encoding=CsvEncoding(report.encoding),
        duplicates=_problems(report.duplicates),
        refused=_problems(report.refused),
        position=position,
    )


@strawberry.type
class ImportMutation:
    @strawberry.mutation(
        description="Register every row of a CSV file (UTF-8 or GB18030, a header row) "
        "through the same rules as registerCustomer. Refused rows and duplicates are "
        "reported with their line; the same file again records nothing new."
    )
    async def import_customers(
        self, info: GInfo, input: ImportCustomersInput
    ) -> ImportCustomersPayload:
        key = str(info.path.key)
        try:
            report, position = await _import(info.context, input)
        except BaseException as error:
            info.context.outcomes.failed(key, error)  # UNKNOWN if a batch may have landed
            raise
        info.context.outcomes.done_many(key, position, report.imported)
        return _payload(report, position)


async def _import(ctx: GatewayContext, input: ImportCustomersInput) -> tuple[ImportReport, int]:
    ctx.require(Permission.IMPORT_CUSTOMERS, "import customers")
    columns = _mapping(input.mapping)
    encoding = input.encoding
    deps = ctx.deps
    context = await ctx.command_context()
    raw: bytes = input.file

    recorded: list[int] = []

    def work() -> tuple[ImportReport, int]:
        service = store_service(deps.app, _handle_many(deps, recorded))
        report = import_customers(
            raw,
            service,
            mapping=columns,
            encoding=encoding.value if encoding else None,
            context=context,
        )
        return report, max(recorded) if recorded else deps.app.max_position()

    try:
        return await to_thread.run_sync(work)
    except ImportRefused as error:
        raise invalid(str(error), _refused_field(error)) from None
    except DomainError as error:
        raise from_domain(error) from error


def _refused_field(error: ImportRefused) -> str:
    return {"mapping": "mapping", "encoding": "encoding"}.get(error.field, "file")


def _handle_many(
    deps: GatewayDeps, recorded: list[int]
) -> Callable[[Sequence[RegisterCustomer], CommandContext], list[CommandResult]]:
    """The command service's bulk path (behind the group committer, if there is one),
    under the gateway's policy; each batch's last result goes to `after_write` like a
    mutation's, and its positions to `recorded`."""
    service = getattr(deps.service, "service", deps.service)
    if not isinstance(service, CommandService):
        raise TypeError(f"imports need a CommandService, not {type(service).__name__}")

    def handle_many(
        commands: Sequence[RegisterCustomer], given: CommandContext
    ) -> list[CommandResult]:
        results = service.handle_many(commands, given)
        recorded.extend(r.position for r in results if r.position is not None)
        if deps.after_write is not None and results:
            deps.after_write(results[-1])
        return results

    return handle_many
