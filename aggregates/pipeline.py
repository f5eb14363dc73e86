"""Which stage moves the sales pipeline allows (RULES.md "Pipeline stages").

A pure function of the current stage, the target and the policy, so the rule can be
tested exhaustively and the aggregate only records moves that passed it.
"""

from __future__ import annotations

from aggregates.errors import RuleViolated, ValidationFailed
from aggregates.policy import Policy


def check_stage_move(*, current: str, to: object, reason: str | None, policy: Policy) -> str:
    """Return the normalised target stage, or raise why the move is refused.

    Forward moves may skip stages; backward moves need a reason; WON is final;
    LOST is reachable from any open stage and leads back only to LEAD, with a reason.
    """
    target = to.strip().upper() if isinstance(to, str) else None
    if target is None or target not in policy.all_stages:
        raise ValidationFailed(
            f"unknown stage {to!r}; one of {', '.join(policy.all_stages)}", field="to"
        )
    if target == current:
        raise RuleViolated(f"the customer is already at {current}", field="to")
    if current == policy.won_stage:
        raise RuleViolated(f"{current} is final", field="to")
    if current == policy.lost_stage:
        if target != policy.initial_stage:
            raise RuleViolated(
                f"a lost customer can only go back to {policy.initial_stage}", field="to"
            )
        if reason is None:
            raise ValidationFailed("winning a lost customer back needs a reason", field="reason")
        return target
    if target == policy.lost_stage:
        return target
    current_rank = policy.stage_rank(current)
    target_rank = policy.stage_rank(target)
    is_backward = (
        current_rank is not None and target_rank is not None and target_rank < current_rank
    )
    if is_backward and reason is None:
        raise ValidationFailed(
            f"moving back from {current} to {target} needs a reason", field="reason"
        )
    return target
