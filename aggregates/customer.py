"""The customer aggregate: the consistency boundary for one customer's facts.

Explicit eventsourcing style: each command validates, then records one event with
`trigger_event`; the state change lives in one `when` handler per event type, so replay
(and the events' own `apply`) rebuild exactly the state the commands saw. Business time
`at` always comes in from outside; this module never reads a clock.

State is kept JSON-friendly (lists and dicts, no sets or tuples) because snapshots copy
`__dict__` through the JSON transcoder.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from functools import singledispatchmethod
from typing import Any, Final, Literal, Self
from uuid import UUID

from eventsourcing.domain import Aggregate

from aggregates.custom_fields import FieldDefinition, Value, check_values
from aggregates.errors import RuleViolated
from aggregates.labels import (
    check_identifier,
    check_labels,
    check_no_contact_data,
    check_not_naming,
)
from aggregates.pipeline import check_stage_move
from aggregates.policy import Policy
from aggregates.purchase import PurchaseLine, decimal_text, price_purchase
from aggregates.validation import (
    ADDRESS_MAX,
    DESCRIPTION_MAX,
    ID_MAX,
    MAX_LINES,
    REASON_MAX,
    SHORT_TEXT_MAX,
    TAG_MAX,
    TAGS_PER_COMMAND,
    check_bool,
    check_choice,
    check_count,
    check_optional_uuid,
    check_purpose,
    check_score,
    check_uuid,
    normalize_email,
    normalize_name,
    normalize_phone,
    normalize_tags,
    normalize_text,
    require_aware,
    require_text,
)
from events import (
    ConsentChanged,
    ContactDetailsChanged,
    ContactTouchRecorded,
    CrmEvent,
    CustomerForgotten,
    CustomerMerged,
    CustomerRegistered,
    CustomerTagged,
    CustomerUntagged,
    CustomFieldsChanged,
    DuplicateMerged,
    LifecycleStageChanged,
    NeedRecorded,
    NoteAdded,
    OwnerAssigned,
    PurchaseRecorded,
    ReferralRecorded,
    SatisfactionSurveyAnswered,
    StageMoved,
    TierChanged,
)
from events.vocabulary import CHANNELS, DIRECTIONS, LEAD, LIFECYCLE_STAGES, TIERS

__all__ = ["UNSET", "Customer", "PurchaseLine", "Unset", "merged_into"]


def _clear_text(value: object, *, field: str, max_length: int) -> str | None:
    """Optional text that stays readable after an erasure: no contact data in it."""
    text = normalize_text(value, field=field, max_length=max_length)
    return check_no_contact_data(text, field=field)


class _Unset(enum.Enum):
    """Marks "not given" where None means "clear this field"."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset.UNSET
Unset = Literal[_Unset.UNSET]

CONTACT_FIELDS: Final = ("name", "email", "phone", "address", "company")


class Customer(Aggregate):
    """One customer: profile, tags, pipeline stage, purchases, touches, consents."""

    # ----------------------------------------------------------------- commands

    @classmethod
    def register(
        cls,
        *,
        customer_id: UUID,
        name: str,
        email: str | None = None,
        phone: str | None = None,
        company: str | None = None,
        industry: str | None = None,
        region: str | None = None,
        source: str | None = None,
        referred_by: UUID | None = None,
        owner: str | None = None,
        at: datetime,
        policy: Policy | None = None,
    ) -> Self:
        """A new customer at LEAD. Email uniqueness is the store's job (it sees everyone)."""
        when = require_aware(at)
        policy = policy or Policy.default()
        customer_id = check_uuid(customer_id, field="customerId")
        referrer = check_optional_uuid(referred_by, field="referredBy")
        if referrer == customer_id:
            raise RuleViolated("a customer cannot refer itself", field="referredBy")
        return cls._create(
            CustomerRegistered,
            id=customer_id,
            timestamp=when,
            name=normalize_name(name),
            email=normalize_email(email),
            phone=normalize_phone(phone, region=policy.default_phone_region),
            company=_clear_text(company, field="company", max_length=SHORT_TEXT_MAX),
            industry=_clear_text(industry, field="industry", max_length=ID_MAX),
            region=_clear_text(region, field="region", max_length=ID_MAX),
            source=_clear_text(source, field="source", max_length=ID_MAX),
            referred_by=referrer,
            owner=normalize_text(owner, field="owner", max_length=SHORT_TEXT_MAX),
        )

    def change_contact_details(
        self,
        *,
        at: datetime,
        name: str | Unset = UNSET,
        email: str | Unset | None = UNSET,
        phone: str | Unset | None = UNSET,
        address: str | Unset | None = UNSET,
        company: str | Unset | None = UNSET,
        policy: Policy | None = None,
    ) -> None:
        """Change only what is given (None clears); records nothing if nothing differs."""
        when = self._command_time(at)
        policy = policy or Policy.default()
        proposed: dict[str, str | None] = {}
        if name is not UNSET:
            proposed["name"] = normalize_name(name)
        if email is not UNSET:
            proposed["email"] = normalize_email(email)
        if phone is not UNSET:
            proposed["phone"] = normalize_phone(phone, region=policy.default_phone_region)
        if address is not UNSET:
            proposed["address"] = normalize_text(address, field="address", max_length=ADDRESS_MAX)
        if company is not UNSET:
            proposed["company"] = _clear_text(company, field="company", max_length=SHORT_TEXT_MAX)
        current = self._contact_details()
        changed = [f for f in CONTACT_FIELDS if f in proposed and proposed[f] != current[f]]
        if not changed:
            return
        # Unchanged fields travel as None: personal data is not repeated needlessly.
        values = {f: proposed[f] if f in changed else None for f in CONTACT_FIELDS}
        self.trigger_event(ContactDetailsChanged, timestamp=when, changed=changed, **values)

    def tag(
        self,
        tags: Iterable[str] | str,
        *,
        at: datetime,
        policy: Policy | None = None,
        field: str = "tags",
    ) -> None:
        """Add tags; already-present ones are ignored, and nothing new records nothing.
        Errors name `field` (``add``, ``add[2]`` for `TagCustomer`'s input)."""
        when = self._command_time(at)
        policy = policy or Policy.default()
        # The count bound comes before any tag is checked (a command naming 100,000 tags is
        # refused at once); over the customer's limit stays a RULE below. Adding is strict
        # (closed form, see aggregates.labels); removing stays lenient so tags recorded
        # before the rule can still be taken off.
        given = [tags] if isinstance(tags, str) else list(tags)
        check_count(given, max(policy.max_tags, TAGS_PER_COMMAND), field=field)
        checked = check_labels(given, field=field, max_length=TAG_MAX)
        new = [tag for tag in checked if tag not in self.tags]
        if not new:
            return
        if len(self.tags) + len(new) > policy.max_tags:
            raise RuleViolated(f"a customer has at most {policy.max_tags} tags", field=field)
        self.trigger_event(CustomerTagged, timestamp=when, tags=new)

    def untag(self, tags: Iterable[str] | str, *, at: datetime, field: str = "tags") -> None:
        """Remove tags; absent ones are ignored, and nothing to remove records nothing."""
        when = self._command_time(at)
        given = normalize_tags(tags, field=field, most=TAGS_PER_COMMAND)
        present = [tag for tag in given if tag in self.tags]
        if present:
            self.trigger_event(CustomerUntagged, timestamp=when, tags=present)

    def record_touch(
        self,
        *,
        channel: str,
        direction: str = "OUTBOUND",
        summary: str | None = None,
        outcome: str | None = None,
        at: datetime,
    ) -> None:
        """A contact with the customer on some channel."""
        when = self._command_time(at)
        self.trigger_event(
            ContactTouchRecorded,
            timestamp=when,
            channel=check_choice(channel, CHANNELS, field="channel"),
            direction=check_choice(direction, DIRECTIONS, field="direction"),
            summary=normalize_text(summary, field="summary", max_length=DESCRIPTION_MAX),
            outcome=normalize_text(outcome, field="outcome", max_length=SHORT_TEXT_MAX),
        )

    def record_need(
        self,
        *,
        need_id: str,
        description: str,
        product_interest: str | None = None,
        at: datetime,
    ) -> None:
        """Something the customer needs, for sales to follow up."""
        when = self._command_time(at)
        need = check_identifier(need_id, field="needId", max_length=ID_MAX)
        if need in self._need_ids():
            # The profile lists needs by id: a second need under the same id would
            # silently take the first one's place in `openNeeds`.
            raise RuleViolated(f"need {need!r} is already recorded", field="needId")
        self.trigger_event(
            NeedRecorded,
            timestamp=when,
            need_id=need,
            description=require_text(description, field="description", max_length=DESCRIPTION_MAX),
            product_interest=normalize_text(
                product_interest, field="productInterest", max_length=SHORT_TEXT_MAX
            ),
        )

    def add_note(self, *, note_id: str, text: str, at: datetime) -> None:
        """A note on the customer; its author is the command's actor (the event's)."""
        when = self._command_time(at)
        note = check_identifier(note_id, field="noteId", max_length=ID_MAX)
        self.check_new_note(note)
        self.trigger_event(
            NoteAdded,
            timestamp=when,
            note_id=note,
            text=require_text(text, field="text", max_length=DESCRIPTION_MAX),
        )

    def set_custom_fields(
        self,
        *,
        values: Mapping[str, object],
        definitions: Mapping[str, FieldDefinition],
        at: datetime,
    ) -> None:
        """Set or clear (None) custom field values, each checked against its definition
        (`aggregates.custom_fields.check_values`); values that are already so record
        nothing. TEXT values go to the sealed `texts`, the others to `changes`."""
        when = self._command_time(at)
        before = self.custom_values_now()
        after = check_values(values, before, definitions)
        changed = sorted(k for k in {*before, *after} if before.get(k) != after.get(k))
        if not changed:
            return
        changes: list[dict[str, Any]] = []
        texts: list[dict[str, Any]] = []
        for key in changed:
            kind = definitions[key].field_type
            entry = {"key": key, "type": kind, "before": before.get(key), "after": after.get(key)}
            (texts if kind == "TEXT" else changes).append(entry)
        self.trigger_event(
            CustomFieldsChanged,
            timestamp=when,
            changed=changed,
            changes=changes,
            texts=texts or None,
        )

    def custom_values_now(self) -> dict[str, Value]:
        # A customer snapshotted before custom fields existed has none in its state.
        values: dict[str, Value] = getattr(self, "custom_values", {})
        return dict(values)

    def check_new_note(self, note_id: str) -> None:
        if note_id in self._note_ids():
            raise RuleViolated(f"note {note_id!r} is already recorded", field="noteId")

    def record_purchase(
        self,
        *,
        order_id: str,
        lines: Sequence[PurchaseLine],
        currency: str = "CNY",
        policy: Policy,
        at: datetime,
    ) -> None:
        """An order, converted to the base currency with the policy's rate table."""
        when = self._command_time(at)
        check_count(lines, MAX_LINES, field="lines")
        order = check_identifier(order_id, field="orderId", max_length=ID_MAX)
        if order in self.order_ids:
            raise RuleViolated(f"order {order!r} is already recorded", field="orderId")
        priced = price_purchase(lines, currency=currency, policy=policy)
        self.trigger_event(
            PurchaseRecorded,
            timestamp=when,
            order_id=order,
            lines=priced.lines,
            currency=priced.currency,
            rate_to_cny=decimal_text(priced.rate_to_cny),
            total=decimal_text(priced.total),
            total_cny=decimal_text(priced.total_cny),
        )

    def move_stage(
        self, *, to: str, reason: str | None = None, at: datetime, policy: Policy | None = None
    ) -> None:
        """Move along the pipeline (see `aggregates.pipeline` for what is allowed)."""
        when = self._command_time(at)
        why = normalize_text(reason, field="reason", max_length=REASON_MAX)
        target = check_stage_move(
            current=self.stage, to=to, reason=why, policy=policy or Policy.default()
        )
        self.trigger_event(
            StageMoved, timestamp=when, from_stage=self.stage, to_stage=target, reason=why
        )

    def assign_owner(
        self, *, owner: str, reason: str | None = None, at: datetime, rule: str | None = None
    ) -> None:
        """Hand the customer to a salesperson; re-assigning the same owner records nothing.

        The previous owner and the reason travel with the event, so the timeline shows
        the whole chain of hand-overs without reconstructing it; `rule` names the
        assignment rule when one chose the owner of a new lead.
        """
        when = self._command_time(at)
        new_owner = require_text(owner, field="owner", max_length=SHORT_TEXT_MAX)
        why = normalize_text(reason, field="reason", max_length=REASON_MAX)
        if new_owner != self.owner:
            self.trigger_event(
                OwnerAssigned,
                timestamp=when,
                owner=new_owner,
                previous_owner=self.owner,
                reason=why,
                rule=rule,
            )

    def change_consent(
        self, *, purpose: str, channel: str | None = None, granted: bool, at: datetime
    ) -> None:
        """Grant or withdraw consent; every decision is recorded (it is evidence)."""
        when = self._command_time(at)
        self.trigger_event(
            ConsentChanged,
            timestamp=when,
            purpose=check_purpose(purpose),
            channel=None if channel is None else check_choice(channel, CHANNELS, field="channel"),
            granted=check_bool(granted, field="granted"),
        )

    def answer_survey(
        self, *, survey_id: str, score: int, comment: str | None = None, at: datetime
    ) -> None:
        """A satisfaction survey answer, scored 1 to 5."""
        when = self._command_time(at)
        self.trigger_event(
            SatisfactionSurveyAnswered,
            timestamp=when,
            survey_id=check_identifier(survey_id, field="surveyId", max_length=ID_MAX),
            score=check_score(score),
            comment=normalize_text(comment, field="comment", max_length=DESCRIPTION_MAX),
        )

    def record_referral(self, *, referred_customer_id: UUID, at: datetime) -> None:
        """This customer brought in another; the same referral twice records nothing."""
        when = self._command_time(at)
        referred = check_uuid(referred_customer_id, field="referredCustomerId")
        if referred == self.id:
            raise RuleViolated("a customer cannot refer itself", field="referredCustomerId")
        if referred not in self.referrals:
            self.trigger_event(ReferralRecorded, timestamp=when, referred_customer_id=referred)

    def merge_into(self, survivor: Customer, *, at: datetime) -> None:
        """Close this duplicate in favour of `survivor`; both streams keep their history."""
        self.require_open("duplicateId")
        when = self._command_time(at)
        if survivor.id == self.id:
            raise RuleViolated("a customer cannot be merged into itself", field="survivorId")
        if survivor.is_closed:
            raise RuleViolated(
                f"customer {survivor.id} is {survivor._closed_as()}; merge into another",
                field="survivorId",
            )
        self.trigger_event(CustomerMerged, timestamp=when, survivor_id=survivor.id)
        survivor.trigger_event(DuplicateMerged, timestamp=when, duplicate_id=self.id)

    def forget(self, *, reason: str, at: datetime) -> None:
        """Right to erasure: the store destroys the key; state drops personal data too.
        A merged duplicate takes this one command still: its stream keeps its own key and
        personal data, and erasure is the person's right whatever was merged."""
        if self.forgotten:
            self.require_open()
        when = require_aware(at)
        why = require_text(reason, field="reason", max_length=REASON_MAX)
        check_no_contact_data(why, field="reason")  # the reason outlives the key
        check_not_naming(why, self.name, field="reason")
        self.trigger_event(CustomerForgotten, timestamp=when, reason=why)

    def advance_lifecycle(
        self,
        *,
        from_stage: str,
        to_stage: str,
        stage_reason: str,
        from_tier: str,
        to_tier: str,
        tier_reason: str,
        at: datetime,
    ) -> None:
        """Record what time alone changed in the derived state (the scheduler's command).

        The read side computes lifecycle and tier over the whole merge tree, which this
        aggregate does not see, so the values come in; the rule here is that only a
        change is recorded: equal values record nothing (a repeated tick is harmless).
        """
        when = self._command_time(at)
        stages = [
            check_choice(v, LIFECYCLE_STAGES, field=f)
            for v, f in ((from_stage, "fromStage"), (to_stage, "toStage"))
        ]
        tiers = [
            check_choice(v, TIERS, field=f)
            for v, f in ((from_tier, "fromTier"), (to_tier, "toTier"))
        ]
        if stages[0] != stages[1]:
            reason = require_text(stage_reason, field="stageReason", max_length=REASON_MAX)
            self.trigger_event(
                LifecycleStageChanged,
                timestamp=when,
                from_stage=stages[0],
                to_stage=stages[1],
                reason=reason,
            )
        if tiers[0] != tiers[1]:
            reason = require_text(tier_reason, field="tierReason", max_length=REASON_MAX)
            self.trigger_event(
                TierChanged, timestamp=when, from_tier=tiers[0], to_tier=tiers[1], reason=reason
            )

    # ------------------------------------------------------------- queries

    @property
    def is_closed(self) -> bool:
        """Merged or forgotten customers refuse every command."""
        return self.merged_into is not None or self.forgotten

    @property
    def stage_history(self) -> list[tuple[str, datetime]]:
        """Every stage the customer was in, with when it got there (oldest first)."""
        return [(entry["stage"], entry["at"]) for entry in self._stage_log]

    def require_open(self, field: str = "customerId") -> None:
        """Raise RULE, on the input `field` naming this customer, if it is closed; other
        aggregates (complaints, tasks) ask before acting."""
        if self.is_closed:
            raise RuleViolated(
                f"customer {self.id} is {self._closed_as()}; no new commands", field=field
            )

    def _closed_as(self) -> str:
        if self.merged_into is not None:
            return f"merged into {self.merged_into}"
        return "forgotten" if self.forgotten else "open"

    def _command_time(self, at: datetime) -> datetime:
        self.require_open()
        return require_aware(at)

    def _need_ids(self) -> list[str]:
        # A customer snapshotted before need ids were kept has none in its state.
        ids: list[str] = getattr(self, "need_ids", [])
        return ids

    def _note_ids(self) -> list[str]:
        # A customer snapshotted before notes existed has no `note_ids` in its state.
        ids: list[str] = getattr(self, "note_ids", [])
        return ids

    def _contact_details(self) -> dict[str, str | None]:
        return {
            "name": self.name,
            "email": self.email,
            "phone": self.phone,
            "address": self.address,
            "company": self.company,
        }

    # ------------------------------------------------------------ evolution

    @singledispatchmethod
    def when(self, event: CrmEvent) -> None:
        """Apply one recorded event to the state (called by the event's `apply`)."""
        raise TypeError(f"{type(self).__name__} cannot apply {type(event).__name__}")

    @when.register
    def _registered(self, event: CustomerRegistered) -> None:
        self.name: str | None = event.name
        self.email: str | None = event.email
        self.phone: str | None = event.phone
        self.address: str | None = None
        self.company: str | None = event.company
        self.industry: str | None = event.industry
        self.region: str | None = event.region
        self.source: str | None = event.source
        self.owner: str | None = event.owner
        self.referred_by: UUID | None = event.referred_by
        self.tags: list[str] = []
        self.stage: str = LEAD
        self._stage_log: list[dict[str, Any]] = [{"stage": LEAD, "at": event.timestamp}]
        self.purchase_count: int = 0
        self.purchase_total_cny: Decimal = Decimal("0.00")
        self.first_purchase_at: datetime | None = None
        self.last_purchase_at: datetime | None = None
        self.order_ids: list[str] = []
        self.touch_counts: dict[str, int] = {}
        self.last_touch_at: datetime | None = None
        self.need_count: int = 0
        self.need_ids: list[str] = []
        self.note_ids: list[str] = []
        self.survey_count: int = 0
        self.last_survey_score: int | None = None
        self.referrals: list[UUID] = []
        self.consents: dict[str, bool] = {}
        self.consent_times: dict[str, datetime] = {}
        self.last_survey_at: datetime | None = None
        self.merged_into: UUID | None = None
        self.merged_duplicates: list[UUID] = []
        self.forgotten: bool = False

    @when.register
    def _contact_details_changed(self, event: ContactDetailsChanged) -> None:
        if "name" in event.changed:
            self.name = event.name
        if "email" in event.changed:
            self.email = event.email
        if "phone" in event.changed:
            self.phone = event.phone
        if "address" in event.changed:
            self.address = event.address
        if "company" in event.changed:
            self.company = event.company

    @when.register
    def _tagged(self, event: CustomerTagged) -> None:
        self.tags = sorted({*self.tags, *event.tags})

    @when.register
    def _untagged(self, event: CustomerUntagged) -> None:
        self.tags = [tag for tag in self.tags if tag not in event.tags]

    @when.register
    def _touch_recorded(self, event: ContactTouchRecorded) -> None:
        self.touch_counts[event.channel] = self.touch_counts.get(event.channel, 0) + 1
        self.last_touch_at = _latest(self.last_touch_at, event.timestamp)

    @when.register
    def _need_recorded(self, event: NeedRecorded) -> None:
        self.need_count += 1
        self.need_ids = [*self._need_ids(), event.need_id]

    @when.register
    def _custom_fields_changed(self, event: CustomFieldsChanged) -> None:
        values = self.custom_values_now()
        for entry in [*event.changes, *(event.texts or ())]:
            if entry["after"] is None:
                values.pop(entry["key"], None)
            else:
                values[entry["key"]] = entry["after"]
        self.custom_values = values

    @when.register
    def _note_added(self, event: NoteAdded) -> None:
        self.note_ids = [*self._note_ids(), event.note_id]

    @when.register
    def _purchase_recorded(self, event: PurchaseRecorded) -> None:
        self.purchase_count += 1
        self.purchase_total_cny += Decimal(event.total_cny)
        self.order_ids.append(event.order_id)
        self.last_purchase_at = _latest(self.last_purchase_at, event.timestamp)
        if self.first_purchase_at is None or event.timestamp < self.first_purchase_at:
            self.first_purchase_at = event.timestamp

    @when.register
    def _stage_moved(self, event: StageMoved) -> None:
        self.stage = event.to_stage
        self._stage_log.append({"stage": event.to_stage, "at": event.timestamp})

    @when.register
    def _owner_assigned(self, event: OwnerAssigned) -> None:
        self.owner = event.owner

    @when.register
    def _consent_changed(self, event: ConsentChanged) -> None:
        # Consent for a whole purpose is keyed by purpose; per channel by "purpose:CHANNEL".
        # A backdated decision is evidence, but the current one is the latest in business
        # time (a customer snapshotted before the times were kept has none).
        key = event.purpose if event.channel is None else f"{event.purpose}:{event.channel}"
        times: dict[str, datetime] = getattr(self, "consent_times", {})
        if key in times and times[key] > event.timestamp:
            return
        self.consents[key] = event.granted
        self.consent_times = {**times, key: event.timestamp}

    @when.register
    def _survey_answered(self, event: SatisfactionSurveyAnswered) -> None:
        self.survey_count += 1
        last: datetime | None = getattr(self, "last_survey_at", None)
        if last is None or event.timestamp >= last:  # the latest answer in business time
            self.last_survey_score = event.score
            self.last_survey_at = event.timestamp

    @when.register
    def _referral_recorded(self, event: ReferralRecorded) -> None:
        self.referrals.append(event.referred_customer_id)

    @when.register
    def _merged(self, event: CustomerMerged) -> None:
        self.merged_into = event.survivor_id

    @when.register
    def _duplicate_merged(self, event: DuplicateMerged) -> None:
        self.merged_duplicates.append(event.duplicate_id)

    @when.register
    def _lifecycle_changed(self, event: LifecycleStageChanged) -> None:
        self.lifecycle_stage: str = event.to_stage

    @when.register
    def _tier_changed(self, event: TierChanged) -> None:
        self.tier: str = event.to_tier

    @when.register
    def _forgotten(self, event: CustomerForgotten) -> None:
        # Replaying after the key is destroyed yields None for these anyway; match it now.
        self.forgotten = True
        self.name = self.email = self.phone = self.address = None


def _latest(current: datetime | None, candidate: datetime) -> datetime:
    """Back-dated imports must not move "last seen" backwards."""
    return candidate if current is None or candidate > current else current


def merged_into(survivor: Customer, get: Callable[[UUID], Customer]) -> list[Customer]:
    """Every customer merged into `survivor`, directly or through another duplicate (a
    merge says they are one person: erasing the survivor erases them all)."""
    found: list[Customer] = []
    seen = {survivor.id}
    waiting = list(survivor.merged_duplicates)
    while waiting:
        duplicate_id = waiting.pop()
        if duplicate_id not in seen:
            seen.add(duplicate_id)
            duplicate = get(duplicate_id)
            found.append(duplicate)
            waiting.extend(duplicate.merged_duplicates)
    return found
