"""Everything the gateway needs from the rest of the platform, in one object.

`GatewayDeps` is built once per process (by the composition root,
`bootstrap.gateway_deps(...)`, or by hand in tests) and handed to `create_app` /
`create_graphql_app`. Resolvers reach it through the request context; nothing in the
gateway reads globals or builds the event store itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from commands.application import CrmApplication
from commands.group_commit import GroupCommitter
from commands.messages import Command, CommandContext, CommandResult
from compliance.access_log import AccessLog
from gateway.db import ReadPool
from projections.business_time import DEFAULT_TIMEZONE
from projections.derived import DEFAULT_THRESHOLDS, Thresholds

if TYPE_CHECKING:
    from gateway.live import LiveEvents


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Limits:
    """Hardening and waiting knobs; the defaults suit the CRM screens of the contract."""

    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 5000
    max_cost: int = 5000
    max_page_size: int = 100
    max_audit_page_size: int = 500
    read_wait_seconds: float = 5.0
    """How long `customer(atLeast:)` waits for the read models before a TIMEOUT error."""
    payload_wait_seconds: float = 2.0
    """How long a mutation payload waits for the read models before it answers from
    the event store instead (see `gateway.write_view`)."""
    max_subscriptions_per_connection: int = 10
    cache_size: int = 256
    """Parsed and validated documents kept (query text -> AST, AST -> errors)."""
    max_token_lifetime: timedelta = timedelta(days=30)
    """Tokens expiring further ahead are refused (401; see `gateway.auth.MAX_LIFETIME`)."""
    max_body_bytes: int = 1 << 20
    """POST bodies over this are 413, checked before authentication or parsing."""


class CommandHandler(Protocol):
    """`CommandService` or the `GroupCommitter` in front of it: the one way to write."""

    def handle(self, command: Command, context: CommandContext) -> CommandResult: ...


@dataclass
class GatewayDeps:
    """The event store application, the command service and the read pool.

    `after_write` is called in the mutation's thread with each command's result, after
    the write and before the payload is read: tests (and a single-process demo) use it
    to bring the read models up to date synchronously. `clock` is the request's
    "now" (one reading per request); reads never derive with it (lifecycle and tier are
    stored columns), only a lagging mutation payload does (`gateway.write_view`).
    """

    app: CrmApplication
    service: CommandHandler
    reads: ReadPool
    limits: Limits = field(default_factory=Limits)
    thresholds: Thresholds = DEFAULT_THRESHOLDS
    clock: Callable[[], datetime] = utc_now
    after_write: Callable[[CommandResult], object] | None = None
    live: LiveEvents | None = None
    access_log: AccessLog | None = None
    """Where reads of personal data are recorded (docs/compliance.md §5); None records
    nothing (unit tests of the schema alone)."""
    timezone: str = DEFAULT_TIMEZONE
    """The business's zone (`CRM_TIMEZONE`): funnel days, "today" (`projections.business_time`)."""
    analytics_root: Path | None = None
    """The analytics files (``DATA_DIR/analytics``) the data-subject export searches for
    the customer's rows, as `crm audit export` does; None: none here, the export's
    analytics section is empty."""

    def close(self) -> None:
        if self.access_log is not None:
            self.access_log.close()
        if isinstance(self.service, GroupCommitter):
            self.service.close(timeout=10)
        self.reads.close()
        self.app.close()
