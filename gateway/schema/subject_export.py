"""`subjectExport`: the data-subject export of `crm audit export`, for the compliance screen.

The document is `compliance.export.build_export`'s (manifest, per-section SHA-256,
checksum), as text exactly as `write_export` writes the file, so the console downloads
the same file the CLI writes and `verify_export` checks it.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import strawberry
from anyio import to_thread

from compliance.audit import UnknownCustomer
from compliance.corruption import Corruption
from compliance.export import (
    build_export,
    corrupted_of,
    export_text,
    personal_fields_read,
)
from gateway.deps import GatewayDeps
from gateway.errors import NOT_FOUND, GatewayError


@strawberry.type(
    description="Everything the platform holds about one customer, as `crm audit export` "
    "writes it (docs/compliance.md)."
)
class SubjectExport:
    file_name: str = strawberry.field(description="A name to save the document under.")
    checksum: str = strawberry.field(
        description="SHA-256 of the canonical JSON of the document without its `checksum` "
        "member (the document's own `checksum`)."
    )
    document: str = strawberry.field(
        description="The export as JSON text, exactly as the `crm audit export` file: "
        "manifest, sections (customer, events, store, read models, analytics, access log) "
        "and checksum."
    )


@dataclass(frozen=True)
class BuiltExport:
    """The answer, and what the resolver records and reports besides."""

    answer: SubjectExport
    personal_fields: set[str]
    corrupted: list[Corruption]


def _build(deps: GatewayDeps, customer_id: UUID, actor: str) -> BuiltExport:
    try:
        document = build_export(
            deps.app,
            deps.reads.database_url,
            customer_id,
            analytics_root=deps.analytics_root,
            generated_by=actor,
        )
    except UnknownCustomer:
        raise GatewayError(f"customer {customer_id} not found", NOT_FOUND, "customerId") from None
    return BuiltExport(
        answer=SubjectExport(
            file_name=f"subject-export-{customer_id}.json",
            checksum=document["checksum"],
            document=export_text(document),
        ),
        personal_fields=personal_fields_read(document),
        corrupted=corrupted_of(document),
    )


async def export_subject(deps: GatewayDeps, customer_id: UUID, actor: str) -> BuiltExport:
    """Built in a worker thread: it reads the store, the read models and analytics files."""
    return await to_thread.run_sync(_build, deps, customer_id, actor)
