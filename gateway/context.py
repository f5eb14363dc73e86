"""Per-request state: who asks, one "now", and the DataLoaders that batch reads.

A page of customers asks for each customer's complaints; the loaders collect those
asks within one tick of the event loop and answer them with one batched read, so the
number of SQL statements does not grow with the page (no N+1).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any
from uuid import UUID

from graphql import GraphQLError
from strawberry.dataloader import DataLoader

from commands.crypto import random_uuid
from commands.messages import CommandContext
from gateway.access import AccessNotes
from gateway.auth import Principal
from gateway.deps import GatewayDeps
from gateway.errors import UNAUTHENTICATED, GatewayError, forbidden
from gateway.observe import trace_correlation_id
from gateway.outcomes import MutationOutcomes
from gateway.roles import Permission, allows, sees_personal
from gateway.scope import DEPARTMENT_SCOPED, Scope, is_scoped, reaches
from projections.activity import ActivityPage, order_pages, touch_pages
from projections.custom_field_list import DefinitionView, custom_field_definitions
from projections.org_scope import visible_owners
from projections.queries import complaints_for, customers_with_complaints, get_customers
from projections.timeline_pages import TimelinePageOf, TimelineWindow, timeline_pages
from projections.views import ComplaintView, CustomerView

ComplaintKey = tuple[UUID, str | None]
TimelineKey = tuple[UUID, TimelineWindow]
ActivityPages = Callable[..., dict[UUID, ActivityPage]]
ActivityKey = tuple[UUID, int, str | None]
"""(customer id, first, after)."""


class Loaders:
    """The request's DataLoaders (their caches live as long as the request)."""

    def __init__(self, deps: GatewayDeps, now: datetime) -> None:
        self.deps = deps
        self.now = now
        self.scope: Callable[[], Awaitable[Scope]] | None = None
        """The request's scope (`GatewayContext.scope`); customers outside it load as None."""

    # Each made on first use: a mutation or a list page needs one or two of them.

    @cached_property
    def customers(self) -> DataLoader[UUID, CustomerView | None]:
        return DataLoader(load_fn=self._load_customers)

    @cached_property
    def complaints(self) -> DataLoader[ComplaintKey, list[ComplaintView]]:
        return DataLoader(load_fn=self._load_complaints)

    @cached_property
    def timelines(self) -> DataLoader[TimelineKey, TimelinePageOf]:
        return DataLoader(load_fn=self._load_timelines)

    @cached_property
    def orders(self) -> DataLoader[ActivityKey, ActivityPage]:
        return DataLoader(load_fn=lambda keys: self._load_activity(order_pages, keys))

    @cached_property
    def touches(self) -> DataLoader[ActivityKey, ActivityPage]:
        return DataLoader(load_fn=lambda keys: self._load_activity(touch_pages, keys))

    @cached_property
    def custom_fields(self) -> DataLoader[int, list[DefinitionView]]:
        """One key (the whole catalog): a page of profiles reads the definitions once."""
        return DataLoader(load_fn=self._load_custom_fields)

    async def _load_custom_fields(self, keys: list[int]) -> list[list[DefinitionView]]:
        found = await self.deps.reads.run(custom_field_definitions)
        return [found for _ in keys]

    async def _load_customers(self, ids: list[UUID]) -> list[CustomerView | None]:
        found = await self.deps.reads.run(get_customers, ids)
        return await self._in_scope([found.get(i) for i in ids])

    async def _in_scope(self, views: list[CustomerView | None]) -> list[CustomerView | None]:
        scope = await self.scope() if self.scope is not None else None
        # Out of scope reads as absent (NOT_FOUND / null), so ids do not leak existence.
        return [v if v is not None and reaches(scope, v.owner) else None for v in views]

    async def profile_with_complaints(self, customer_id: UUID) -> CustomerView | None:
        """The profile and its complaints (any status) in one read, both loaders primed:
        for a 360° query that selects `complaints`, which would otherwise wait for the
        profile's read before its own."""
        if self.customers.cache_map.get(customer_id) is not None:
            return await self.customers.load(customer_id)
        views, complaints = await self.deps.reads.run(customers_with_complaints, [customer_id])
        (view,) = await self._in_scope([views.get(customer_id)])
        self.customers.prime(customer_id, view)
        if view is not None:
            self.complaints.prime((view.id, None), complaints.get(customer_id, []))
        return view

    async def _load_complaints(self, keys: list[ComplaintKey]) -> list[list[ComplaintView]]:
        by_status: dict[str | None, list[UUID]] = defaultdict(list)
        for customer_id, status in keys:
            by_status[status].append(customer_id)
        statuses = list(by_status)
        answers = await asyncio.gather(
            *(self.deps.reads.run(complaints_for, by_status[s], s) for s in statuses)
        )
        found = {
            (customer_id, status): complaints
            for status, answer in zip(statuses, answers, strict=True)
            for customer_id, complaints in answer.items()
        }
        return [found.get(key, []) for key in keys]

    async def _load_timelines(self, keys: list[TimelineKey]) -> list[TimelinePageOf]:
        """One statement per distinct window (usually one: a page of customers asks
        each for the same slice)."""
        by_window: dict[TimelineWindow, list[UUID]] = defaultdict(list)
        for customer_id, window in keys:
            by_window[window].append(customer_id)
        windows = list(by_window)
        answers = await asyncio.gather(
            *(self.deps.reads.run(timeline_pages, by_window[w], w) for w in windows)
        )
        found = {
            (customer_id, window): page
            for window, answer in zip(windows, answers, strict=True)
            for customer_id, page in answer.items()
        }
        return [found[key] for key in keys]

    async def _load_activity(
        self, pages: ActivityPages, keys: list[ActivityKey]
    ) -> list[ActivityPage]:
        by_slice: dict[tuple[int, str | None], list[UUID]] = defaultdict(list)
        for customer_id, first, after in keys:
            by_slice[(first, after)].append(customer_id)
        slices = list(by_slice)
        answers = await asyncio.gather(
            *(self.deps.reads.run(pages, by_slice[s], first=s[0], after=s[1]) for s in slices)
        )
        found = {
            (customer_id, first, after): page
            for (first, after), answer in zip(slices, answers, strict=True)
            for customer_id, page in answer.items()
        }
        empty = ActivityPage([], has_next=False)
        return [found.get(key, empty) for key in keys]

    def prime_customers(self, views: list[CustomerView]) -> None:
        for view in views:
            self.customers.prime(view.id, view)


@dataclass
class GatewayContext:
    """What every resolver reads as `info.context`."""

    deps: GatewayDeps
    now: datetime
    loaders: Loaders
    request: Any = None
    principal: Principal | None = None
    connection_params: dict[str, Any] | None = field(default=None)
    outcomes: MutationOutcomes = field(default_factory=MutationOutcomes)
    reported: list[GraphQLError] = field(default_factory=list)
    """Errors that accompany an answer instead of replacing it (`gateway.reported`)."""
    request_id: str = field(default_factory=lambda: random_uuid().hex)
    """Names the request in the gateway log and the ``X-Request-ID`` response header."""
    access: AccessNotes = field(default_factory=AccessNotes)
    """Personal fields returned so far, for the access log (`gateway.access`)."""

    _scope: tuple[Scope] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.loaders.scope = self.scope

    @classmethod
    def new(cls, deps: GatewayDeps, request: Any = None) -> GatewayContext:
        now = deps.clock()
        return cls(deps=deps, now=now, loaders=Loaders(deps, now), request=request)

    async def scope(self) -> Scope:
        """The owners whose customers this request may see (None: all), read from the
        organisation once per request (`gateway.scope`)."""
        if self._scope is None:
            principal = self.who
            if not is_scoped(principal.role):
                self._scope = (None,)
            else:
                owners = await self.deps.reads.run(
                    visible_owners,
                    principal.subject,
                    department=principal.role in DEPARTMENT_SCOPED,
                )
                self._scope = (owners,)
        return self._scope[0]

    @property
    def who(self) -> Principal:
        if self.principal is None:
            raise GatewayError("not authenticated", UNAUTHENTICATED)
        return self.principal

    def require(self, permission: Permission, what: str) -> Principal:
        """The principal, if its role has `permission`; FORBIDDEN otherwise."""
        principal = self.who
        if not allows(principal.role, permission):
            raise forbidden(what, principal.role.value)
        return principal

    @property
    def sees_personal(self) -> bool:
        return self.principal is not None and sees_personal(self.principal.role)

    async def command_context(self) -> CommandContext:
        """The write side's context: the token's subject is the actor of every event, and
        the request's scope bounds which customers the command may touch."""
        return CommandContext(
            actor=self.who.subject, correlation_id=trace_correlation_id(), scope=await self.scope()
        )
