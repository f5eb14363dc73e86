"""`viewer`: who the request's token is, as the gateway resolved it.

A client (the web console) asks this instead of decoding the token itself: an identity
provider's token may carry its role under another claim or in a list (`roles:
["sales"]`), which only the gateway's verifier (`gateway.auth`) knows how to read. Every
authenticated role may ask; the answer only shapes a UI, and every rule stays in the API.
"""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from gateway.auth import Principal
from gateway.context import GatewayContext

GInfo = Info[GatewayContext, None]


@strawberry.type(description="The caller, as the gateway read the request's token.")
class Viewer:
    subject: str = strawberry.field(
        description="The token's subject: the actor of every event the caller causes."
    )
    role: str = strawberry.field(
        description='The one role the gateway resolved (e.g. "sales"), whichever claim '
        "carried it: what the role matrix (docs/roles.md) applies to."
    )
    team: str | None = strawberry.field(
        description="The token's `team` claim, if any: a hint for screens (scoping reads "
        "the organisation, not the token)."
    )
    department: str | None = strawberry.field(
        description="The token's `department` claim, if any: a hint, like `team`."
    )
    expires_at: datetime = strawberry.field(description="When the token stops being accepted.")


def viewer_of(principal: Principal) -> Viewer:
    return Viewer(
        subject=principal.subject,
        role=principal.role.value,
        team=principal.team,
        department=principal.department,
        expires_at=principal.expires_at,
    )


@strawberry.type
class ViewerQuery:
    @strawberry.field(
        description="Who the token is: subject, role, team and department hints, expiry. "
        "Every role (a request without a valid token is refused before it runs)."
    )
    def viewer(self, info: GInfo) -> Viewer:
        # `who` is UNAUTHENTICATED without a principal, as for every other field.
        return viewer_of(info.context.who)
