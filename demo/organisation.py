"""The demo's organisation: two departments, four teams sharing the reps, and rules.

The reps are `People.owners`, so the seeded customers are owned across the teams and a
sales token of any rep (`crm token --role sales --subject <rep>`) sees its team's share.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from commands.messages import (
    AddTeamMember,
    Command,
    DefineAssignmentRule,
    DefineDepartment,
    DefineTeam,
)

TEAMS: Final = (
    ("华东一组", "华东"),
    ("华东二组", "华东"),
    ("华北一组", "华北"),
    ("华北二组", "华北"),
)
"""(team, department): 2 departments of 2 teams each."""
MANAGERS: Final = ("manager.east", "manager.north")
"""A manager per department, a member of its first team (docs/roles.md)."""


def organisation_commands(reps: Sequence[str]) -> list[Command]:
    """Define the organisation; the reps are dealt round the teams in order."""
    commands: list[Command] = [DefineDepartment(department=d) for d in ("华东", "华北")]
    commands += [DefineTeam(team=team, department=dept) for team, dept in TEAMS]
    commands += [
        AddTeamMember(team=TEAMS[i % len(TEAMS)][0], member=rep) for i, rep in enumerate(reps)
    ]
    commands += [
        AddTeamMember(team="华东一组", member=MANAGERS[0]),
        AddTeamMember(team="华北一组", member=MANAGERS[1]),
        DefineAssignmentRule(rule="上海线索", team="华东二组", region="上海"),
        DefineAssignmentRule(rule="展会线索", team="华北二组", source="trade-show", capacity=50),
        DefineAssignmentRule(rule="华东轮询", team="华东一组", capacity=200),
    ]
    return commands


def first_rep_of(team: str, reps: Sequence[str]) -> str:
    """A rep of `team` (for the demo's printed sales token)."""
    index = next(i for i, (name, _) in enumerate(TEAMS) if name == team)
    return reps[index]
