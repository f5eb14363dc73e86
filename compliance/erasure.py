"""Erasure end to end (``crm audit forget``): forget, scrub every copy, prove it.

1. Read the customer's known values (name, email, phone, address, every value they
   ever had, and the contact data inside its free texts; `compliance.needles`) from
   the event store while its key still exists. They stay in memory only, as search
   needles, and are never printed.
2. Record `ForgetCustomer` through the command service: the ``CustomerForgotten`` event
   (with actor, correlation id and reason: the erasure is itself audited) and the
   destruction of the customer's key commit in one transaction. From then on every
   personal field in the event store, its snapshots and every Kafka message (sealed
   under that key) is unreadable, and later commands on the customer are refused.
3. Scrub the read models now (`compliance.readmodels.scrub_read_models`) and the
   analytics files (`compliance.analytics.scrub`), not waiting for the workers.
4. Report personal fields the store holds in clear (recorded before they were sealed),
   and search every PostgreSQL table and every analytics file (and the topic, if asked)
   for the needles, including contact data still readable in clear; the receipt lists
   what was found where (labels only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from aggregates.customer import Customer, merged_into
from aggregates.errors import RuleViolated
from commands.application import CrmApplication
from commands.messages import CommandContext, ForgetCustomer
from commands.service import CommandService
from compliance import analytics
from compliance.needles import clear_residue, known_values
from compliance.readmodels import scrub_read_models
from compliance.residue import Finding, search_database, search_files, search_topic
from streams.kafka_clients import PLAINTEXT, KafkaSecurity


@dataclass
class ErasureReceipt:
    """What `erase` did and found."""

    customer_id: UUID
    position: int | None
    already_forgotten: bool
    read_model_events_applied: int
    analytics_scrubbed: list[str]
    searched: list[str]
    needles: list[str]
    findings: list[Finding] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.findings


@dataclass(frozen=True)
class SearchScope:
    """Where to look for leftovers after the erasure."""

    database: bool = True
    files: Path | None = None
    topic: tuple[str, str] | None = None  # (bootstrap, topic)
    widened_topics: tuple[str, ...] = ()  # on the same cluster: `crm topic widen`'s topics
    topic_security: KafkaSecurity = PLAINTEXT  # the cluster's SASL/SSL settings


def erase(
    app: CrmApplication,
    conninfo: str,
    customer_id: UUID,
    *,
    reason: str,
    actor: str,
    analytics_root: Path | None,
    scope: SearchScope | None,
) -> ErasureReceipt:
    """Forget the customer and scrub every copy (see module docstring).

    Forgetting an already forgotten customer is refused by the aggregate; `erase` then
    still scrubs and searches (its needles then only what the store holds in clear), so
    it can finish an erasure interrupted after its commit, and reports what survives.
    """
    # The customers merged into this one are erased with it (`ForgetCustomer`): their
    # values are searched for and their copies scrubbed too, read while the keys exist.
    tree = [customer_id, *(c.id for c in _merged_tree(app, customer_id))]
    needles: dict[str, str] = {}
    for cid in tree:
        for label, value in known_values(app, cid).items():
            needles.setdefault(label if cid == customer_id else f"{label} of {cid}", value)
    service = CommandService(app)
    position: int | None = None
    already = False
    try:
        result = service.handle(
            ForgetCustomer(customer_id=customer_id, reason=reason), CommandContext(actor=actor)
        )
        position = result.position
    except RuleViolated:
        if app.crm_recorder.select_wrapped_keys([customer_id]):
            raise  # refused with its key still there: not an erasure already made
        already = True
    applied = sum(scrub_read_models(app, conninfo, cid) for cid in tree)
    root = analytics_root
    scrubbed = [s for cid in tree for s in analytics.scrub(root, cid)] if root is not None else []
    # What the store still holds in clear (history recorded before a field was sealed):
    # readable without the key, so an erasure run again still finds and reports it.
    clear_findings: list[Finding] = []
    for cid in tree:
        findings, clear_needles = clear_residue(app, cid)
        clear_findings += findings
        for label, value in clear_needles.items():
            if value.lower() not in (v.lower() for v in needles.values()):
                needles[label] = value
    receipt = ErasureReceipt(
        customer_id=customer_id,
        position=position,
        already_forgotten=already,
        read_model_events_applied=applied,
        analytics_scrubbed=scrubbed,
        searched=[],
        needles=sorted(needles),
    )
    if scope is not None:
        if scope.database:
            receipt.findings += clear_findings
            receipt.searched.append("the customer's stored events for personal data in clear")
        if needles:
            search(receipt, conninfo, needles, scope)
    return receipt


def search(
    receipt: ErasureReceipt, conninfo: str, needles: dict[str, str], scope: SearchScope
) -> None:
    if scope.database:
        receipt.findings += search_database(conninfo, needles)
        receipt.searched.append("every PostgreSQL table")
    if scope.files is not None:
        receipt.findings += search_files(scope.files, needles)
        receipt.searched.append(f"every file under {scope.files}")
    if scope.topic is not None:
        bootstrap, first = scope.topic
        for topic in (first, *scope.widened_topics):
            receipt.findings += search_topic(
                bootstrap, topic, needles, security=scope.topic_security
            )
            receipt.searched.append(f"every message of topic {topic}")


def _merged_tree(app: CrmApplication, customer_id: UUID) -> list[Customer]:
    """The customers merged into this one (none if it is unknown: `erase` reports that)."""
    try:
        survivor: Customer = app.repository.get(customer_id)
    except AggregateNotFoundError:
        return []
    return merged_into(survivor, app.repository.get)
