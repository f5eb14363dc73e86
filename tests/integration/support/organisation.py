"""Test support: an organisation defined through the admin's mutations over HTTP."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tests.integration.support.gateway import GatewayHarness
from tests.integration.support.timeline import done


async def define_organisation(
    gw: GatewayHarness,
    departments: Mapping[str, Sequence[str]],
    teams: Mapping[str, Sequence[str]],
) -> None:
    """`departments`: department -> its teams; `teams`: team -> its members."""
    for department, its_teams in departments.items():
        await done(gw, "defineDepartment", {"department": department})
        for team in its_teams:
            await done(gw, "defineTeam", {"team": team, "department": department})
    for team, members in teams.items():
        for member in members:
            await done(gw, "addTeamMember", {"team": team, "member": member})
