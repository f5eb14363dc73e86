"""`auditChain`: the hash chain's status, for the compliance screen (as `crm audit verify`).

Every link of the store is recomputed (`compliance.verify.verify_chain`, in a worker
thread, in one consistent snapshot): proof that no recorded event was altered, inserted
or deleted since it was chained. What only an outside anchor can show (a full rewrite,
or the newest events deleted with their links) stays with `crm audit verify`'s
checkpoint.
"""

from __future__ import annotations

import strawberry
from anyio import to_thread
from psycopg.rows import tuple_row

from commands.application import CrmApplication
from compliance.verify import ChainReport, verify_chain


@strawberry.type(description="Where the store first stops matching its hash chain.")
class ChainBreakInfo:
    position: int
    kind: str = strawberry.field(
        description="altered, link, missing, unchained or genesis (docs/compliance.md)."
    )
    detail: str


@strawberry.type(description="The hash chain over every recorded event, verified now.")
class ChainStatus:
    intact: bool
    events_checked: int
    last_position: int | None
    unchained_before_chain: int = strawberry.field(
        description="Events recorded before the chain existed (an unchained prefix)."
    )
    first_break: ChainBreakInfo | None
    seconds: float


def chain_status(report: ChainReport) -> ChainStatus:
    broken = report.broken
    return ChainStatus(
        intact=report.ok,
        events_checked=report.checked,
        last_position=report.last_position,
        unchained_before_chain=report.unchained,
        first_break=ChainBreakInfo(position=broken.position, kind=broken.kind, detail=broken.detail)
        if broken
        else None,
        seconds=round(report.seconds, 3),
    )


def _verify(app: CrmApplication) -> ChainReport:
    recorder = app.crm_recorder
    with recorder.datastore.get_connection() as conn:
        # The store's pool hands out dict rows; the verifier reads tuples.
        given = conn.row_factory
        conn.row_factory = tuple_row  # type: ignore[assignment]
        try:
            return verify_chain(conn, recorder.chain_tables)
        finally:
            conn.row_factory = given


async def verified_chain(app: CrmApplication) -> ChainStatus:
    return chain_status(await to_thread.run_sync(_verify, app))
