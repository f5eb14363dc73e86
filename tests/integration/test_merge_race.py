"""A new complaint or task racing a merge of its customer: the duplicate is closed to new
commands (RULES.md, "Merging duplicates"), also when the merge commits between the
complaint's check (on a copy loaded before the merge) and its save."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from aggregates.errors import RuleViolated
from commands.application import CrmApplication
from commands.crypto import generate_master_key
from commands.group_commit import GroupCommitter
from commands.messages import CommandContext, FileComplaint, MergeCustomers, RegisterCustomer
from commands.service import CommandService

pytestmark = pytest.mark.integration

CTX = CommandContext(actor="race")


@pytest.fixture
def apps(database_url: str) -> Iterator[tuple[CrmApplication, CrmApplication]]:
    master = generate_master_key()
    first = CrmApplication(database_url, master_key=master, pool_size=2, max_overflow=4)
    second = CrmApplication(database_url, master_key=master, pool_size=2, max_overflow=4)
    yield first, second
    first.close()
    second.close()


def _merge_in_the_gap(app: CrmApplication, other: CommandService, merge: MergeCustomers) -> None:
    """Once: another process commits the merge after the complaint was decided and its
    copies checked, just before this process saves (the window a real race hits)."""
    original = app.record
    fired: list[bool] = []

    def record(*args: Any, **kwargs: Any) -> Any:
        if not fired:
            fired.append(True)
            other.handle(merge, CommandContext(actor="merger"))
        return original(*args, **kwargs)

    app.record = record  # type: ignore[method-assign]


@pytest.mark.parametrize("grouped", [False, True])
def test_a_complaint_racing_a_merge_is_refused_not_filed_after_it(
    apps: tuple[CrmApplication, CrmApplication], database_url: str, grouped: bool
) -> None:
    app, other_app = apps
    service, other = CommandService(app), CommandService(other_app)
    survivor = service.handle(RegisterCustomer(name="Survivor"), CTX).customer_id
    duplicate = service.handle(RegisterCustomer(name="Duplicate"), CTX).customer_id
    _merge_in_the_gap(app, other, MergeCustomers(survivor_id=survivor, duplicate_id=duplicate))
    complaint = FileComplaint(
        customer_id=duplicate, category="service", severity="LOW", description="late"
    )
    with pytest.raises(RuleViolated, match="merged into"):
        if grouped:
            with GroupCommitter(service) as committer:
                committer.handle(complaint, CTX)
        else:
            service.handle(complaint, CTX)
    with psycopg.connect(database_url) as conn:
        filed = conn.execute(
            "SELECT count(*) FROM crm_stream_subjects WHERE customer_id = %s", (duplicate,)
        ).fetchone()
    assert filed == (0,)
