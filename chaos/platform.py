"""The platform under test: a real `crm up` in a temp folder, and clients for it."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from chaos.client import Api
from chaos.running import PlatformProcess, running_platform, scratch_data_dir


@contextmanager
def platform_up(
    timeout: float = 120.0, env: Mapping[str, str] | None = None
) -> Iterator[PlatformProcess]:
    """`crm up` on a new data folder, healthy; stopped and removed afterwards. `env`:
    `CRM_*` settings for it, e.g. `replicated(2)`."""
    with (
        scratch_data_dir("crm-chaos-") as data_dir,
        running_platform(data_dir, env=env) as platform,
    ):
        platform.wait_healthy(timeout=timeout)
        yield platform


def replicated(count: int) -> dict[str, str]:
    """Settings for `count` gateways and `count` members per topic worker."""
    return {"CRM_GATEWAYS": str(count), "CRM_WORKERS": str(count)}


def api_factory(platform: PlatformProcess) -> Callable[[], Api]:
    """New GraphQL clients with an admin token signed by the platform's own secret."""
    from ops.tokens import mint_token, parse_ttl

    secret = (platform.data_dir / "jwt.secret").read_text().strip()
    token = mint_token(secret, role="admin", subject="chaos", ttl=parse_ttl("2h"))
    return lambda: Api(platform.graphql_url, token)


def master_key(data_dir: Path) -> str:
    return (data_dir / "master.key").read_text().strip()
