"""What a mutation answers: the changed customer or complaint, and the position.

The payload's object is read like any query would read it, once the read models
include the mutation's position (read-your-writes, waited for briefly); if they lag
longer than `Limits.payload_wait_seconds`, it is built from the event store
(`gateway.write_view`) so a successful write never answers with an error.
"""

from __future__ import annotations

from uuid import UUID

from anyio import to_thread

from gateway.consistency import wait_for_position
from gateway.context import GatewayContext
from gateway.errors import NOT_FOUND, GatewayError
from gateway.write_view import complaint_view_from_store, customer_view_from_store
from projections.views import ComplaintView, CustomerView


async def customer_after_write(
    ctx: GatewayContext, customer_id: UUID, position: int
) -> CustomerView:
    deps = ctx.deps
    reached, _ = await wait_for_position(
        deps, customer_id, position, deps.limits.payload_wait_seconds
    )
    if reached:
        view = await ctx.loaders.customers.load(customer_id)
        if view is not None:
            return view
    # As of after the write: the request's `now` is older than a purchase it recorded
    # without an occurredAt, which the lifecycle and the tier would then leave out.
    after = max(ctx.now, deps.clock())
    fallback = await to_thread.run_sync(
        customer_view_from_store, deps.app, customer_id, after, deps.thresholds
    )
    if fallback is None:
        raise GatewayError(f"customer {customer_id} not found", NOT_FOUND)
    return fallback


async def complaint_after_write(
    ctx: GatewayContext, complaint_id: UUID, customer_id: UUID, position: int
) -> ComplaintView:
    deps = ctx.deps
    reached, _ = await wait_for_position(
        deps, customer_id, position, deps.limits.payload_wait_seconds
    )
    if reached:
        for complaint in await ctx.loaders.complaints.load((customer_id, None)):
            if complaint.id == complaint_id:
                return complaint
    fallback = await to_thread.run_sync(complaint_view_from_store, deps.app, complaint_id)
    if fallback is None:
        raise GatewayError(f"complaint {complaint_id} not found", NOT_FOUND)
    return fallback
