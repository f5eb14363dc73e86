"""The profile's lists: orders, touches, notes (paged), open needs, surveys, consents, and the
timeline connection, as GraphQL types built from the read API's views.

Free texts (a need's description, a survey's comment, a touch's summary and outcome)
are personal: null for a role without personal data access, noted when returned.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from gateway.schema.enums import Channel, Direction
from gateway.schema.timeline import OrderLine, TimelineEntry


@strawberry.type(description="One recorded purchase (an order), amounts exact.")
class Order:
    order_id: str
    customer_id: strawberry.ID = strawberry.field(
        description="Whose order: a survivor's list includes its merged duplicates'."
    )
    at: datetime = strawberry.field(description="Business time of the purchase.")
    currency: str
    rate_to_cny: Decimal = strawberry.field(description="The rate used when it was recorded.")
    total: Decimal = strawberry.field(description="In `currency`.")
    total_cny: Decimal = strawberry.field(description="In the base currency (CNY).")
    lines: list[OrderLine]


@strawberry.type
class OrderEdge:
    cursor: str
    node: Order


@strawberry.type
class Touch:
    customer_id: strawberry.ID
    at: datetime
    channel: Channel
    direction: Direction
    summary: str | None = strawberry.field(description="Personal: null without access.")
    outcome: str | None = strawberry.field(description="Personal: null without access.")


@strawberry.type
class TouchEdge:
    cursor: str
    node: Touch


@strawberry.type(
    description="A need the customer has; needs have no closing event yet, so "
    "every recorded need is open."
)
class Need:
    need_id: str
    description: str | None = strawberry.field(description="Personal: null without access.")
    product_interest: str | None = strawberry.field(description="Personal: null without access.")
    recorded_at: datetime


@strawberry.type(description="The latest answer to one survey (a repeat answer replaces it).")
class SurveyAnswer:
    survey_id: str
    score: int = strawberry.field(description="1 to 5.")
    comment: str | None = strawberry.field(description="Personal: null without access.")
    answered_at: datetime


@strawberry.type(description="The current decision for one purpose (and channel).")
class Consent:
    purpose: str
    channel: Channel | None = strawberry.field(description="Null: the whole purpose.")
    granted: bool
    changed_at: datetime


@strawberry.type(description="A note written on the customer.")
class Note:
    note_id: str
    author: str | None = strawberry.field(description="Who wrote it (the token's subject).")
    at: datetime
    text: str | None = strawberry.field(
        description="Personal: null without access, and once the customer is forgotten."
    )
    position: int = strawberry.field(description="Global position in the event store.")


@strawberry.type
class NoteEdge:
    cursor: str
    node: Note


@strawberry.type
class TimelineEntryEdge:
    cursor: str
    node: TimelineEntry
