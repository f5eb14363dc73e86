"""One customer's year: the commands a CRM would have received about them, in order.

A story is written in two passes. First the *plot*: which things happen, in their
logical order (registered, tagged, called, qualified, sent a proposal, won, bought three
times, complained once...), each as a command type plus its fields. Then the *clock*:
the steps get business times, sorted random points between registration and the day
the customer went quiet, so every customer's events are in time order and some
customers stop buying early enough to show up as AT_RISK or CHURNED.

The funnel is drawn step by step with forward probabilities that fall off the way real
pipelines do (most leads stay early; roughly one in ten is won; some are lost and a
few of those won back). Customers registered only days ago have had no time to move,
so their forward chances are scaled down by how long they have been around.

Everything random comes from the customer's own `random.Random`, so a story depends on
the seed, the customer number and the customers before it in its cohort (referrers and
merge survivors are chosen among those), never on batch sizes.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID

from pypinyin import lazy_pinyin

from commands.messages import (
    AddNote,
    AnswerSatisfactionSurvey,
    AssignComplaint,
    AssignOwner,
    ChangeConsent,
    ChangeContactDetails,
    Command,
    EscalateComplaint,
    FileComplaint,
    ForgetCustomer,
    MergeCustomers,
    MoveStage,
    PurchaseLineInput,
    RecordContactTouch,
    RecordNeed,
    RecordPurchase,
    RegisterCustomer,
    ResolveComplaint,
    ScheduleTask,
    TagCustomer,
)
from demo.people import Identity, People
from demo.vocabulary import (
    BACKWARD_REASONS,
    CATALOGUE,
    COMPLAINT_CATEGORIES,
    CONSENT_PURPOSES,
    ESCALATION_REASONS,
    FOREIGN_QUOTES,
    FORGET_REASONS,
    INDUSTRIES,
    LOST_REASONS,
    NEEDS,
    NOTES,
    OUTCOMES,
    REASSIGN_REASONS,
    REGIONS,
    RESOLUTIONS,
    SEVERITY_WEIGHTS,
    SOURCES,
    SUPPORT_AGENTS,
    SURVEY_COMMENTS,
    TAGS_BY_KIND,
    TASK_TITLES,
    TOUCH_SUMMARIES,
    WIN_BACK_REASONS,
    Product,
)
from events.vocabulary import CHANNELS, PIPELINE_PATH, TASK_KINDS

HISTORY_DAYS = 365
CENT = Decimal("0.01")

# Chance to move one stage further, by current stage (before scaling by tenure).
FORWARD = {
    "LEAD": 0.68,
    "CONTACTED": 0.62,
    "QUALIFIED": 0.66,
    "PROPOSAL": 0.72,
    "QUOTE": 0.78,
    "NEGOTIATION": 0.72,
}
# Chance that a deal which stopped moving is marked LOST, by the stage it stopped at.
LOST_WHEN_STALLED = {
    "LEAD": 0.06,
    "CONTACTED": 0.25,
    "QUALIFIED": 0.35,
    "PROPOSAL": 0.45,
    "QUOTE": 0.5,
    "NEGOTIATION": 0.55,
}
WIN_BACK = 0.15
SKIP_A_STAGE = 0.08
STEP_BACK = 0.05
DUPLICATE_RATE = 0.006
# Entered again and not merged yet: what `duplicateCandidates` should find in the demo.
LOOKALIKE_RATE = 0.01
FORGET_RATE = 0.004
REASSIGN_RATE = 0.1
ASSIGN_RATE = 0.75
CONTACT_CHANGE_RATE = 0.15
CONSENT_RATE = 0.55
CONSENT_WITHDRAW_RATE = 0.12
COMPLAINT_RATE_BUYER = 0.22
COMPLAINT_RATE_OTHER = 0.03
SURVEY_AFTER_PURCHASE = 0.3
# A salesperson writes a note after the touches before a stage move this often.
NOTE_RATE = 0.35
# Customers in touch during the last 30 days that have a follow-up task due today.
TASK_RATE = 0.3
FOREIGN_RATE = 0.12
TENURE_FOR_FULL_FUNNEL = 120  # days before a customer's odds stop being scaled down


def pick(rng: random.Random, weighted: Sequence[tuple[Any, ...]]) -> Any:
    """First element of one (value, ..., weight) row, drawn by its last element."""
    rows = list(weighted)
    return rng.choices([row[0] for row in rows], weights=[row[-1] for row in rows])[0]


def uuid_from(rng: random.Random) -> UUID:
    """A version-4 UUID from the seeded generator (uuid4() would break determinism)."""
    return UUID(int=rng.getrandbits(128), version=4)


@dataclass(frozen=True)
class Step:
    """A command of the plot, waiting for its business time."""

    kind: type[Command]
    fields: dict[str, Any]

    def at(self, when: datetime) -> Command:
        return self.kind(**self.fields, occurred_at=when)


@dataclass
class Story:
    """A customer's plot and, once timed, its commands in order."""

    index: int
    customer_id: UUID
    identity: Identity
    registered_at: datetime
    quiet_from: datetime
    closes: bool = False  # merged or forgotten: cannot refer or survive a merge
    steps: list[Step] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)


class StoryWriter:
    """Writes stories for one seed; `write` is called in customer order within a cohort."""

    def __init__(self, people: People, until: datetime) -> None:
        self.people = people
        self.until = until
        self.since = until - timedelta(days=HISTORY_DAYS)

    def write(self, index: int, rng: random.Random, earlier: Sequence[Story]) -> Story:
        """Customer `index`'s story; `earlier` are the cohort's previous customers."""
        identity = self.people.identity(index, rng)
        registered = self.since + timedelta(seconds=rng.uniform(0, HISTORY_DAYS * 86400 - 3600))
        tenure = self.until - registered - timedelta(hours=1)  # room for the last steps
        # Most customers stay in touch until now; some go quiet early (sleepers, churners).
        share = max(rng.random(), rng.random()) if rng.random() < 0.7 else rng.random()
        quiet_from = registered + tenure * max(share, 0.05)
        story = Story(index, uuid_from(rng), identity, registered, quiet_from)
        survivor = self._duplicate_of(rng, story, earlier)
        lookalike_of = None if survivor is not None else self._lookalike_of(story, earlier)
        if survivor is not None:
            self._plot_duplicate(rng, story, survivor)
        elif lookalike_of is not None:
            self._plot_lookalike(rng, story, lookalike_of)
        else:
            self._plot(rng, story, earlier)
        self._time(rng, story)
        self._follow_up(story)
        return story

    def _follow_up(self, story: Story) -> None:
        """Some customers still in touch get a follow-up task due today (a few already
        past, so the scheduler marks them overdue). Its own generator keeps the rest of
        the story as it was before tasks existed."""
        side = random.Random(f"task:{story.customer_id}")
        active = story.quiet_from > self.until - timedelta(days=30)
        if story.closes or not active or side.random() >= TASK_RATE:
            return
        last = story.commands[-1].occurred_at or story.registered_at
        scheduled = last + timedelta(seconds=1)
        due = self.until + timedelta(hours=side.uniform(-3, 8))
        due = max(due, scheduled + timedelta(minutes=5)).replace(second=0, microsecond=0)
        kind = side.choice(TASK_KINDS)
        step = Step(
            ScheduleTask,
            {
                "customer_id": story.customer_id,
                "task_id": uuid_from(side),
                "kind": kind,
                "title": TASK_TITLES[kind],
                "assignee": side.choice(self.people.owners),
                "due_at": due,
            },
        )
        story.commands.append(step.at(scheduled))

    # -- plot ------------------------------------------------------------------------------

    def _duplicate_of(
        self, rng: random.Random, story: Story, earlier: Sequence[Story]
    ) -> Story | None:
        if rng.random() >= DUPLICATE_RATE:
            return None
        candidates = [s for s in earlier if not s.closes and s.registered_at < story.registered_at]
        return rng.choice(candidates) if candidates else None

    def _plot_duplicate(self, rng: random.Random, story: Story, survivor: Story) -> None:
        """The same person entered again through another channel, later merged away."""
        story.closes = True
        other_sources = [row for row in SOURCES if row[0] != "referral"]
        story.steps.append(
            Step(
                RegisterCustomer,
                {
                    "customer_id": story.customer_id,
                    "name": survivor.identity.name,
                    "email": story.identity.email() if rng.random() < 0.5 else None,
                    "phone": survivor.identity.phone,
                    "company": survivor.identity.company,
                    "industry": pick(rng, INDUSTRIES),
                    "region": pick(rng, REGIONS),
                    "source": pick(rng, other_sources),
                    "owner": rng.choice(self.people.owners),
                },
            )
        )
        for _ in range(rng.randint(0, 2)):
            story.steps.append(self._touch(rng, story))
        story.steps.append(
            Step(
                MergeCustomers,
                {"survivor_id": survivor.customer_id, "duplicate_id": story.customer_id},
            )
        )

    def _lookalike_of(self, story: Story, earlier: Sequence[Story]) -> Story | None:
        """Its own generator, so every other story stays as it was before lookalikes."""
        side = random.Random(f"lookalike:{story.customer_id}")
        if side.random() >= LOOKALIKE_RATE:
            return None
        candidates = [s for s in earlier if not s.closes and s.registered_at < story.registered_at]
        return side.choice(candidates) if candidates else None

    def _plot_lookalike(self, rng: random.Random, story: Story, original: Story) -> None:
        """The same person entered again by someone who typed the name in pinyin or the
        phone with spaces, not merged: a likely duplicate for the finder. It is closed
        (never a referrer or a merge survivor), so the demo's merges stay as they were."""
        side = random.Random(f"lookalike-plot:{story.customer_id}")
        story.closes = True
        name = original.identity.name
        spelled = (
            " ".join(w.capitalize() for w in lazy_pinyin(name)) if side.random() < 0.5 else name
        )
        digits = "".join(c for c in original.identity.phone if c.isdigit())
        spaced = f"{digits[:3]} {digits[3:7]} {digits[7:]}" if len(digits) == 11 else digits
        story.steps.append(
            Step(
                RegisterCustomer,
                {
                    "customer_id": story.customer_id,
                    "name": spelled,
                    "email": None,
                    "phone": spaced if side.random() < 0.7 else None,
                    "company": original.identity.company,
                    "industry": pick(rng, INDUSTRIES),
                    "region": pick(rng, REGIONS),
                    "source": "trade-show",
                    "owner": rng.choice(self.people.owners),
                },
            )
        )
        story.steps.append(self._touch(rng, story))

    def _plot(self, rng: random.Random, story: Story, earlier: Sequence[Story]) -> None:
        source = pick(rng, SOURCES)
        referrer = None
        if source == "referral":
            found = [s for s in earlier if not s.closes and s.registered_at < story.registered_at]
            referrer = rng.choice(found).customer_id if found else None
            source = "referral" if referrer is not None else "web"
        region = pick(rng, REGIONS)
        industry = pick(rng, INDUSTRIES)
        owner = rng.choice(self.people.owners)
        story.steps.append(
            Step(
                RegisterCustomer,
                {
                    "customer_id": story.customer_id,
                    "name": story.identity.name,
                    "email": story.identity.email() if rng.random() < 0.8 else None,
                    "phone": story.identity.phone if rng.random() < 0.85 else None,
                    "company": story.identity.company if rng.random() < 0.9 else None,
                    "industry": industry,
                    "region": region,
                    "source": source,
                    "referred_by": referrer,
                    "owner": owner,
                },
            )
        )
        story.steps.append(self._tag(story, [region, industry, rng.choice(TAGS_BY_KIND["kind"])]))
        if rng.random() < CONSENT_RATE:
            story.steps.append(self._consent(rng, story, granted=True))
        won = self._plot_funnel(rng, story, referred=referrer is not None)
        middle: list[Step] = []
        if won:
            middle.extend(self._plot_customer_life(rng, story))
        else:
            middle.extend(self._touch(rng, story) for _ in range(rng.randint(1, 4)))
            if rng.random() < COMPLAINT_RATE_OTHER:
                middle.extend(self._complaint(rng, story))
        if rng.random() < REASSIGN_RATE:
            others = [o for o in self.people.owners if o != owner]
            reassign = self._assign(story, rng.choice(others), rng.choice(REASSIGN_REASONS))
            middle.insert(rng.randint(0, len(middle)), reassign)
        if rng.random() < CONTACT_CHANGE_RATE:
            middle.insert(rng.randint(0, len(middle)), self._contact_change(rng, story))
        story.steps.extend(middle)
        if story.quiet_from < self.until - timedelta(days=90) and rng.random() < 0.5:
            story.steps.append(self._tag(story, ["沉睡客户"]))
        if (
            any(s.kind is ChangeConsent for s in story.steps)
            and rng.random() < CONSENT_WITHDRAW_RATE
        ):
            story.steps.append(self._consent(rng, story, granted=False))
        if rng.random() < FORGET_RATE:
            story.closes = True
            story.steps.append(
                Step(
                    ForgetCustomer,
                    {"customer_id": story.customer_id, "reason": rng.choice(FORGET_REASONS)},
                )
            )

    def _plot_funnel(self, rng: random.Random, story: Story, *, referred: bool) -> bool:
        """Stage moves with touches and needs between them; True if the deal was won."""
        tenure_days = (self.until - story.registered_at).days
        odds = min(1.0, 0.25 + tenure_days / TENURE_FOR_FULL_FUNNEL)
        path = PIPELINE_PATH
        stage, won_back = "LEAD", False
        while True:
            forward = FORWARD[stage] * odds * (1.15 if referred else 1.0)
            if rng.random() < forward:
                rank = path.index(stage)
                step = 2 if rng.random() < SKIP_A_STAGE and rank + 2 < len(path) - 1 else 1
                target = path[rank + step]
                self._before_move(rng, story, target)
                story.steps.append(self._move(story, target))
                stage = target
                if stage == "WON":
                    return True
                if stage in ("QUOTE", "NEGOTIATION") and rng.random() < STEP_BACK:
                    stage = path[path.index(stage) - 1]
                    story.steps.append(self._move(story, stage, rng.choice(BACKWARD_REASONS)))
                continue
            if rng.random() >= LOST_WHEN_STALLED[stage]:
                return False
            story.steps.append(self._touch(rng, story))
            story.steps.append(self._move(story, "LOST", rng.choice(LOST_REASONS)))
            if won_back or rng.random() >= WIN_BACK:
                return False
            won_back, stage = True, "LEAD"
            story.steps.append(self._move(story, "LEAD", rng.choice(WIN_BACK_REASONS)))
            odds *= 0.8

    def _before_move(self, rng: random.Random, story: Story, target: str) -> None:
        touches = {"CONTACTED": (1, 2), "QUALIFIED": (1, 2), "WON": (0, 1)}.get(target, (1, 3))
        for _ in range(rng.randint(*touches)):
            story.steps.append(self._touch(rng, story))
        # Notes draw from their own generator, so the rest of every story (and the seeds
        # tests pick for a merge or a forget) stays what it was before notes existed.
        side = random.Random(f"note:{story.customer_id}:{len(story.steps)}")
        if side.random() < NOTE_RATE:
            story.steps.append(self._note(side, story))
        if target == "QUALIFIED":
            for _ in range(rng.randint(1, 2)):
                story.steps.append(self._need(rng, story))
        elif target in ("PROPOSAL", "QUOTE") and rng.random() < 0.3:
            story.steps.append(self._need(rng, story))

    def _plot_customer_life(self, rng: random.Random, story: Story) -> list[Step]:
        """After WON: purchases (some loyal buyers), touches, surveys, complaints."""
        steps: list[Step] = [self._tag(story, ["老客户", rng.choice(("高价值", "普通客户"))])]
        purchases = rng.choices((1, 2, 3, 4, 5, 6, 8, 12, 14), (30, 22, 14, 9, 8, 6, 5, 4, 2))[0]
        big_buyer = rng.random() < 0.12
        for _ in range(purchases):
            order = self._purchase(rng, story, big_buyer)
            steps.append(order)
            if rng.random() < SURVEY_AFTER_PURCHASE:
                steps.append(self._survey(rng, story, f"post-purchase-{order.fields['order_id']}"))
            steps.extend(self._touch(rng, story) for _ in range(rng.randint(0, 2)))
        if rng.random() < COMPLAINT_RATE_BUYER:
            complaint = self._complaint(rng, story)
            at = rng.randint(2, len(steps))  # after the first purchase (steps[1])
            steps[at:at] = complaint
        return steps

    # -- single steps ----------------------------------------------------------------------

    def _tag(self, story: Story, tags: Sequence[str]) -> Step:
        return Step(TagCustomer, {"customer_id": story.customer_id, "add": tuple(tags)})

    def _move(self, story: Story, to: str, reason: str | None = None) -> Step:
        return Step(MoveStage, {"customer_id": story.customer_id, "to": to, "reason": reason})

    def _assign(self, story: Story, owner: str, reason: str) -> Step:
        return Step(
            AssignOwner, {"customer_id": story.customer_id, "owner": owner, "reason": reason}
        )

    def _consent(self, rng: random.Random, story: Story, *, granted: bool) -> Step:
        purpose = CONSENT_PURPOSES[0] if granted else rng.choice(CONSENT_PURPOSES[:2])
        return Step(
            ChangeConsent,
            {
                "customer_id": story.customer_id,
                "purpose": purpose,
                "granted": granted,
                "channel": rng.choice(("EMAIL", "WECHAT", "PHONE")),
            },
        )

    def _touch(self, rng: random.Random, story: Story) -> Step:
        channel = rng.choices(CHANNELS, weights=(30, 18, 10, 6, 22, 3, 8, 3))[0]
        template = rng.choice(TOUCH_SUMMARIES[channel])
        product = rng.choice(CATALOGUE).name
        return Step(
            RecordContactTouch,
            {
                "customer_id": story.customer_id,
                "channel": channel,
                "direction": "INBOUND" if rng.random() < 0.3 else "OUTBOUND",
                "summary": template.format(product=product, region=pick(rng, REGIONS)),
                "outcome": rng.choice(OUTCOMES),
            },
        )

    def _note(self, rng: random.Random, story: Story) -> Step:
        text = rng.choice(NOTES).format(product=rng.choice(CATALOGUE).name)
        return Step(
            AddNote,
            {
                "customer_id": story.customer_id,
                "text": text,
                "note_id": f"note-{uuid_from(rng).hex[:16]}",
            },
        )

    def _need(self, rng: random.Random, story: Story) -> Step:
        description, sku = rng.choice(NEEDS)
        return Step(
            RecordNeed,
            {
                "customer_id": story.customer_id,
                "description": description,
                "product_interest": sku,
                "need_id": f"need-{uuid_from(rng).hex[:16]}",
            },
        )

    def _purchase(self, rng: random.Random, story: Story, big_buyer: bool) -> Step:
        products: list[Product] = rng.sample(CATALOGUE, k=rng.choice((1, 1, 2, 2, 3)))
        currency, divisor = "CNY", Decimal(1)
        if rng.random() < FOREIGN_RATE:
            currency, divisor = rng.choices(
                [(code, rate) for code, rate, _ in FOREIGN_QUOTES],
                weights=[weight for _, _, weight in FOREIGN_QUOTES],
            )[0]
        lines = []
        for product in products:
            top = product.max_quantity if big_buyer else max(1, product.max_quantity // 4)
            discount = Decimal(rng.choice((100, 95, 90, 88, 85, 80))) / 100
            price = (product.price_cny * discount / divisor).quantize(CENT, ROUND_HALF_UP)
            lines.append(
                PurchaseLineInput(sku=product.sku, quantity=rng.randint(1, top), unit_price=price)
            )
        return Step(
            RecordPurchase,
            {
                "customer_id": story.customer_id,
                "lines": tuple(lines),
                "currency": currency,
                "order_id": f"SO-{uuid_from(rng).hex[:12].upper()}",
            },
        )

    def _survey(self, rng: random.Random, story: Story, survey_id: str) -> Step:
        score = rng.choices((5, 4, 3, 2, 1), (36, 34, 15, 10, 5))[0]
        return Step(
            AnswerSatisfactionSurvey,
            {
                "customer_id": story.customer_id,
                "survey_id": survey_id,
                "score": score,
                "comment": rng.choice(SURVEY_COMMENTS),
            },
        )

    def _complaint(self, rng: random.Random, story: Story) -> list[Step]:
        """Filed; maybe escalated by hand; usually resolved, with a satisfaction score."""
        complaint_id = uuid_from(rng)
        category, description = rng.choice(COMPLAINT_CATEGORIES)
        severity = pick(rng, SEVERITY_WEIGHTS)
        steps = [
            Step(
                FileComplaint,
                {
                    "customer_id": story.customer_id,
                    "category": category,
                    "severity": severity,
                    "description": description,
                    "complaint_id": complaint_id,
                },
            )
        ]
        agent = rng.choice(SUPPORT_AGENTS) if rng.random() < ASSIGN_RATE else None
        if agent is not None:
            steps.append(Step(AssignComplaint, {"complaint_id": complaint_id, "assignee": agent}))
        escalate_odds = {"HIGH": 0.4, "MEDIUM": 0.1}.get(severity, 0.0)
        if rng.random() < escalate_odds:
            steps.append(
                Step(
                    EscalateComplaint,
                    {"complaint_id": complaint_id, "reason": rng.choice(ESCALATION_REASONS)},
                )
            )
            if agent is not None and rng.random() < 0.5:  # escalations go to someone else
                senior = rng.choice([a for a in SUPPORT_AGENTS if a != agent])
                steps.append(
                    Step(AssignComplaint, {"complaint_id": complaint_id, "assignee": senior})
                )
        if rng.random() < 0.82:
            worst = severity in ("HIGH", "CRITICAL")
            satisfaction = None
            if rng.random() < 0.75:
                satisfaction = rng.choices(
                    (5, 4, 3, 2, 1), (15, 30, 30, 15, 10) if worst else (30, 35, 20, 10, 5)
                )[0]
            steps.append(
                Step(
                    ResolveComplaint,
                    {
                        "complaint_id": complaint_id,
                        "resolution": rng.choice(RESOLUTIONS),
                        "satisfaction": satisfaction,
                    },
                )
            )
            if rng.random() < 0.3:
                steps.append(self._survey(rng, story, f"complaint-{complaint_id.hex[:12]}"))
        return steps

    def _contact_change(self, rng: random.Random, story: Story) -> Step:
        what = rng.choice(("phone", "address", "address", "email"))
        fields: dict[str, Any] = {"customer_id": story.customer_id}
        if what == "phone":
            fields["phone"] = self.people.phone()
        elif what == "address":
            fields["address"] = self.people.address()
        else:
            fields["email"] = story.identity.email(".new")
        return Step(ChangeContactDetails, fields)

    # -- clock -----------------------------------------------------------------------------

    def _time(self, rng: random.Random, story: Story) -> None:
        """Sorted random times from registration to going quiet, strictly increasing."""
        first, *rest = story.steps
        span = (story.quiet_from - story.registered_at).total_seconds()
        offsets = sorted(rng.uniform(60, max(span, 120)) for _ in rest)
        story.commands.append(first.at(story.registered_at))
        previous = story.registered_at
        for step, offset in zip(rest, offsets, strict=True):
            when = max(
                story.registered_at + timedelta(seconds=offset), previous + timedelta(seconds=1)
            )
            story.commands.append(step.at(when))
            previous = when
