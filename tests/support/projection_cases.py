"""Every row of RULES.md's lifecycle and tier tables, with their boundaries, as cases.

Run in Python by tests/unit/test_projection_derived.py and through the SQL expressions
against PostgreSQL by tests/integration/test_projection_rules.py: one list, two engines.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from projections.derived import ComplaintFact, CustomerFacts, PurchaseFact, facts_as_of

NOW = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Case:
    """A customer described relative to NOW: purchases (days ago, CNY), complaints."""

    name: str
    expected: str
    stage: str = "LEAD"
    purchases: tuple[tuple[float, str], ...] = ()
    complaints: tuple[tuple[str, bool], ...] = ()  # (severity, resolved)

    def facts(self, now: datetime = NOW) -> CustomerFacts:
        return facts_as_of(
            stage=self.stage,
            purchases=[PurchaseFact(NOW - ago * DAY, Decimal(v)) for ago, v in self.purchases],
            complaints=[
                ComplaintFact(severity, NOW - 10 * DAY, NOW - DAY if resolved else None)
                for severity, resolved in self.complaints
            ],
            now=now,
        )


def bought(*ages: float, amount: str = "100") -> tuple[tuple[float, str], ...]:
    return tuple((age, amount) for age in ages)


LIFECYCLE_CASES = (
    Case("churned: last purchase 181 days ago", "CHURNED", purchases=bought(181)),
    Case("churned beats loyal", "CHURNED", purchases=bought(181, 200, 250, 300, 350)),
    Case("won and churned", "CHURNED", stage="WON", purchases=bought(200)),
    Case("180 days is not yet churned, but at risk", "AT_RISK", purchases=bought(180)),
    Case("at risk: last purchase 91 days ago", "AT_RISK", purchases=bought(91)),
    Case("at risk: 90 days plus a second", "AT_RISK", purchases=bought(90 + 1 / 86400)),
    Case("90 days is still a new customer", "NEW_CUSTOMER", purchases=bought(90)),
    Case("at risk beats loyal", "AT_RISK", purchases=bought(91, 100, 120, 150, 200)),
    Case(
        "at risk: open HIGH complaint",
        "AT_RISK",
        purchases=bought(5, 6, 7, 8, 9),
        complaints=(("HIGH", False),),
    ),
    Case(
        "at risk: open CRITICAL complaint",
        "AT_RISK",
        purchases=bought(1),
        complaints=(("CRITICAL", False),),
    ),
    Case(
        "at risk: WON with a HIGH complaint", "AT_RISK", stage="WON", complaints=(("HIGH", False),)
    ),
    Case(
        "MEDIUM complaint is no risk",
        "NEW_CUSTOMER",
        purchases=bought(1),
        complaints=(("MEDIUM", False),),
    ),
    Case(
        "resolved HIGH complaint is no risk",
        "NEW_CUSTOMER",
        purchases=bought(1),
        complaints=(("HIGH", True),),
    ),
    Case(
        "a prospect with a complaint is no customer", "PROSPECT", complaints=(("CRITICAL", False),)
    ),
    Case("loyal: 5 purchases in 365 days", "LOYAL", purchases=bought(1, 10, 20, 30, 40)),
    Case("loyal: the 365th day counts", "LOYAL", purchases=bought(1, 10, 20, 30, 365)),
    Case("4 in the year is repeat", "REPEAT_CUSTOMER", purchases=bought(1, 10, 20, 366, 400)),
    Case("repeat: 2 purchases", "REPEAT_CUSTOMER", purchases=bought(1, 2)),
    Case("new customer: 1 purchase", "NEW_CUSTOMER", purchases=bought(3)),
    Case("new customer: WON without purchases", "NEW_CUSTOMER", stage="WON"),
    Case("new customer: LOST after buying", "NEW_CUSTOMER", stage="LOST", purchases=bought(3)),
    *(
        Case(f"opportunity: {s}", "OPPORTUNITY", stage=s)
        for s in ("QUALIFIED", "PROPOSAL", "QUOTE", "NEGOTIATION")
    ),
    *(Case(f"prospect: {s}", "PROSPECT", stage=s) for s in ("LEAD", "CONTACTED", "LOST")),
    Case("a purchase after now does not count yet", "PROSPECT", purchases=bought(-1)),
)

TIER_CASES = (
    Case("vip: 100,000", "VIP", purchases=bought(1, amount="100000")),
    Case("vip: 12 purchases, 50,000", "VIP", purchases=tuple((d, "4166.67") for d in range(1, 13))),
    Case(
        "11 purchases of 60,000 is gold",
        "GOLD",
        purchases=tuple((d, "5454.55") for d in range(1, 12)),
    ),
    Case(
        "12 purchases under 50,000 is gold",
        "GOLD",
        purchases=(*bought(*range(1, 12), amount="4000"), (12, "5999.99")),
    ),
    Case("99,999.99 is gold", "GOLD", purchases=bought(1, amount="99999.99")),
    Case("gold: 20,000", "GOLD", purchases=bought(1, 2, amount="10000")),
    Case("19,999.99 is silver", "SILVER", purchases=bought(1, amount="19999.99")),
    Case("silver: 2,000", "SILVER", purchases=bought(1, amount="2000")),
    Case("1,999.99 is bronze", "BRONZE", purchases=bought(1, amount="1999.99")),
    Case("bronze: no purchases", "BRONZE"),
    Case("the 365th day counts", "VIP", purchases=bought(365, amount="100000")),
    Case("366 days ago does not", "BRONZE", purchases=bought(366, amount="100000")),
)
