"""`duplicateCandidates`: likely duplicate customers, scored, for a merge screen.

Each candidate names both customers (the older as the suggested survivor) so the UI
calls `mergeCustomers(input: {survivorId, duplicateId})` as it is; both are `Customer`
objects, so their personal fields are masked per role like everywhere else. The pairs
and their scores are `projections.duplicates`'.
"""

from __future__ import annotations

import enum

import strawberry
from strawberry.types import Info

from gateway.context import GatewayContext
from gateway.errors import GatewayError, invalid
from gateway.roles import Permission
from gateway.schema.paging import page_size
from gateway.schema.types import Customer, PageInfo
from projections.cursors import InvalidCursor
from projections.duplicates import Candidate, duplicate_candidates

GInfo = Info[GatewayContext, None]


@strawberry.enum(description="Why two customers look like one.")
class DuplicateReason(enum.Enum):
    PHONE = strawberry.enum_value("PHONE", description="The same phone number (E.164 digits).")
    EMAIL = strawberry.enum_value("EMAIL", description="The same email (a +tag ignored).")
    NAME = strawberry.enum_value(
        "NAME", description="The same name in pinyin (张三 = Zhang San = zhangsan)."
    )
    COMPANY = strawberry.enum_value(
        "COMPANY", description="The same company, case and spaces aside (with NAME: a pair)."
    )
    REGION = strawberry.enum_value("REGION", description="The same region (raises the score).")


@strawberry.type(description="Two customers that look like one, with why and how likely.")
class DuplicateCandidate:
    candidate: strawberry.Private[Candidate]

    @strawberry.field(description="0–100: phone 50, email 50, name 30, company 10, region 5.")
    def score(self) -> int:
        return self.candidate.score

    @strawberry.field(description="Every reason that applies, strongest first.")
    def reasons(self) -> list[DuplicateReason]:
        return [DuplicateReason(r) for r in self.candidate.reasons]

    @strawberry.field(description="The older customer: `mergeCustomers`' survivorId.")
    def survivor_id(self) -> strawberry.ID:
        return strawberry.ID(str(self.candidate.survivor_id))

    @strawberry.field(description="The newer customer: `mergeCustomers`' duplicateId.")
    def duplicate_id(self) -> strawberry.ID:
        return strawberry.ID(str(self.candidate.duplicate_id))

    @strawberry.field
    async def survivor(self, info: GInfo) -> Customer:
        return await _customer(info, self.candidate.survivor_id)

    @strawberry.field
    async def duplicate(self, info: GInfo) -> Customer:
        return await _customer(info, self.candidate.duplicate_id)


async def _customer(info: GInfo, customer_id: object) -> Customer:
    ctx = info.context
    view = await ctx.loaders.customers.load(customer_id)  # type: ignore[arg-type]
    if view is None:  # merged or forgotten between the page and this read
        raise GatewayError("the customer is no longer readable", "NOT_FOUND")
    return Customer.of(view, ctx.sees_personal)


@strawberry.type
class DuplicateCandidateEdge:
    node: DuplicateCandidate
    cursor: str


@strawberry.type(description="Duplicate candidates, highest score first.")
class DuplicateCandidateConnection:
    edges: list[DuplicateCandidateEdge]
    page_info: PageInfo


@strawberry.type
class DuplicateQuery:
    @strawberry.field(
        description="Pairs of live customers sharing a normalized phone or email, or a "
        "pinyin name at the same company, best first; merge one with `mergeCustomers` and "
        "the pair is gone."
    )
    async def duplicate_candidates(
        self, info: GInfo, first: int | None = 20, after: str | None = None
    ) -> DuplicateCandidateConnection:
        ctx = info.context
        ctx.require(Permission.FIND_DUPLICATES, "find duplicate customers")
        size = page_size(20 if first is None else first, ctx.deps.limits.max_page_size)
        try:
            page = await ctx.deps.reads.run(
                duplicate_candidates, first=size, after=after, owners=await ctx.scope()
            )
        except InvalidCursor as error:
            raise invalid(str(error), "after") from None
        edges = [
            DuplicateCandidateEdge(node=DuplicateCandidate(candidate=c), cursor=c.cursor)
            for c in page.candidates
        ]
        return DuplicateCandidateConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next,
                end_cursor=edges[-1].cursor if edges else None,
                has_previous_page=after is not None,
                start_cursor=edges[0].cursor if edges else None,
            ),
        )
