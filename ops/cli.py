"""The `crm` command line: one entry point for operators and for every platform process.

Operator verbs: `crm up`, `crm demo`, `crm status`, `crm token`. Process verbs, which
`crm up` runs as supervised children (so the process list names each part):
`crm gateway`, `crm relay`, `crm worker NAME`. More verbs plug in through `ops/verbs/`.

A wrong setting ends any verb with one line on stderr naming it, and exit code 2.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gateway.roles import ROLES
from ops.config import Settings, load_settings_checked
from ops.errors import SettingError

app = typer.Typer(
    name="crm",
    help="Event-sourced CRM platform: start it, check it, get a token.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", "-d", help="Data folder (CRM_DATA_DIR, default ./.crm).", show_default=False
    ),
]
Port = Annotated[
    int | None,
    typer.Option(
        "--port",
        "-p",
        help="Gateway port (CRM_PORT, default 8000; 0 picks a free one).",
        show_default=False,
    ),
]

Gateways = Annotated[
    int | None,
    typer.Option(
        "--gateways",
        help="Gateway processes on the one port (CRM_GATEWAYS, default 2).",
        show_default=False,
    ),
]
Workers = Annotated[
    int | None,
    typer.Option(
        "--workers",
        help="Processes per topic worker, sharing its partitions (CRM_WORKERS, default 2).",
        show_default=False,
    ),
]


@contextmanager
def setting_errors() -> Iterator[None]:
    """Turn a SettingError (or a startup failure) into one line on stderr and exit 2."""
    from commands.key_check import MasterKeyMismatch
    from ops.supervisor import StartupError

    try:
        yield
    except (SettingError, StartupError) as error:
        err_console.print(f"error: {error}", style="bold red", markup=False)
        raise typer.Exit(2) from None
    except MasterKeyMismatch as error:  # a process's start (docs/deployment.md)
        err_console.print(f"error: CRM_MASTER_KEY: {error}", style="bold red", markup=False)
        raise typer.Exit(2) from None


def settings_from(**overrides: Any) -> Settings:
    """The process's settings; behind a transaction pooler, no prepared statements from
    here on (`commands.pooling`), before any connection is made."""
    from commands.pooling import set_prepared_statements

    settings = load_settings_checked(**overrides)
    set_prepared_statements(settings.database_pooler != "transaction")
    return settings


def _log(message: str) -> None:
    console.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {escape(message)}")


def _announce(message: str) -> None:
    console.print(f"[bold green]{escape(message)}[/bold green]")


def command_names(typer_app: typer.Typer) -> set[str]:
    """Names of the registered verbs (sub-apps included)."""
    names: set[str] = set()
    for command in typer_app.registered_commands:
        callback = command.callback
        name = command.name or (callback.__name__.replace("_", "-") if callback else None)
        if name:
            names.add(name)
    for group in typer_app.registered_groups:
        instance = group.typer_instance
        name = group.name or (instance.info.name if instance is not None else None)
        if isinstance(name, str):
            names.add(name)
    return names


# -- operator verbs -----------------------------------------------------------


Relays = Annotated[
    int | None,
    typer.Option(
        "--relays",
        help="Relay processes (CRM_RELAYS, default 2): one publishes, the others stand by.",
        show_default=False,
    ),
]


@app.command()
def up(
    data_dir: DataDir = None,
    port: Port = None,
    gateways: Gateways = None,
    workers: Workers = None,
    relays: Relays = None,
) -> None:
    """Start the whole platform (servers, gateway, relay, workers) and supervise it.

    The workers include the scheduler that moves lifecycle stages with time and marks
    follow-up tasks overdue (which sends their assignees a `taskReminders` reminder).

    Writes DATA_DIR/endpoints.json and prints the GraphQL URL once /healthz says every
    part is up. Ctrl-C (or SIGTERM) stops everything, embedded servers included.
    """
    from ops.stack import run_up

    with setting_errors():
        settings = settings_from(
            data_dir=data_dir, port=port, gateways=gateways, workers=workers, relays=relays
        )
        run_up(settings, _log, _announce)


@app.command()
def demo(
    data_dir: DataDir = None, port: Port = None, gateways: Gateways = None, workers: Workers = None
) -> None:
    """Like `up`, plus an admin token and demo data (what `crm seed` records).

    The token is printed as soon as the platform is healthy; the demo data then loads
    in the background (progress in DATA_DIR/logs/seed.log) while everything serves.
    """
    from ops.stack import Running, crm_command, run_up
    from ops.supervisor import ChildSpec

    def on_healthy(running: Running) -> None:
        from ops.keys import jwt_secret
        from ops.tokens import mint_token, parse_ttl

        settings = running.plan.settings
        token = mint_token(
            jwt_secret(settings), role="admin", subject="demo-admin", ttl=parse_ttl("12h")
        )
        _announce(f"admin token (12h): {token}")
        _announce_team_tokens(settings)
        _announce(f"web console: open {settings.console_url} and sign in with the token above")
        _print_sample_query(settings.graphql_url, token)
        _announce("serving until Ctrl-C")
        if "seed" not in command_names(app):
            _log("demo data: no `crm seed` command yet, so the platform starts empty")
            return
        log_file = settings.logs_dir / "seed.log"
        began = time.monotonic()

        def seeded(code: int) -> None:
            took = time.monotonic() - began
            _log(
                f"demo data loaded in {took:.0f}s"
                if code == 0
                else f"`crm seed` failed; see {log_file}"
            )
            if code == 0:
                _log(
                    'analysts: crm sql "SELECT * FROM funnel"; crm report; crm check'
                    f" (the catalog: {settings.analytics_path})"
                )

        _log(f"loading demo data in the background (`crm seed`; progress in {log_file})")
        running.supervisor.run_job(
            ChildSpec(
                name="seed",
                command=crm_command("seed"),
                env=running.plan.child_env(),
                log_path=log_file,
                oneshot=True,
                on_exit=seeded,
            )
        )

    with setting_errors():
        settings = settings_from(data_dir=data_dir, port=port, gateways=gateways, workers=workers)
        run_up(settings, _log, _announce, on_healthy)


def _announce_team_tokens(settings: Settings) -> None:
    """A rep's and a manager's token, to see the scoping (`crm seed`'s default seed)."""
    from ops.verbs.seed import demo_team_tokens

    for line in demo_team_tokens(settings):
        _announce(line)


def _print_sample_query(url: str, token: str) -> None:
    """What to try first: GraphiQL in a browser, or the same query with curl."""
    import json

    from gateway.graphiql import SAMPLE_QUERY

    query = "\n".join(line for line in SAMPLE_QUERY.splitlines() if not line.startswith("#"))
    console.print(f"open {url} in a browser, paste the token into the header field, and run:")
    console.print(query, markup=False)
    body = json.dumps({"query": " ".join(query.split())})
    console.print("or from a shell:", markup=False)
    console.print(
        f"curl -s {url} -H 'Authorization: Bearer {token}' "
        f"-H 'Content-Type: application/json' -d '{body}'",
        markup=False,
    )


@app.command()
def status(data_dir: DataDir = None) -> None:
    """Show each component's status, as `GET /healthz` of the running platform says."""
    import httpx

    from ops.runtime import endpoint

    with setting_errors():
        settings = settings_from(data_dir=data_dir)
        if settings.database_url and not settings.endpoints_file.exists():
            # Processes run one by one (`crm gateway`, `crm relay`, `crm worker`, on any
            # host: docs/deployment.md) write no endpoints.json: ask the gateway the
            # settings name (CRM_HOST, CRM_PORT).
            url, source = settings.health_url, "CRM_HOST, CRM_PORT"
        else:
            url, source = endpoint(settings, "health"), str(settings.endpoints_file)
        try:
            # Short: a wrong port in endpoints.json is one line within 5 s, not a hang.
            response = httpx.get(url, timeout=3.0)
            body = response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise SettingError(None, f"cannot read {url} (from {source}): {error}") from None
    table = Table(title=f"{url} → {response.status_code}")
    for column in ("component", "status", "pid", "restarts", "detail"):
        table.add_column(column)
    for name, entry in sorted(body.get("components", {}).items()):
        table.add_row(
            name,
            str(entry.get("status")),
            str(entry.get("pid") or ""),
            str(entry.get("restarts", "")),
            str(entry.get("detail", "")),
        )
    console.print(table)
    _print_processes(body.get("processes"))
    if response.status_code != 200:
        raise typer.Exit(1)


def _print_processes(processes: list[dict[str, Any]] | None) -> None:
    """The deployment's process table: every process on every host (stale ones marked)."""
    if not processes:
        return
    table = Table(title="processes (from PostgreSQL: every host)")
    for column in ("component", "host", "pid", "status", "age s", "probe", "detail"):
        table.add_column(column)
    for entry in processes:
        table.add_row(
            str(entry.get("component")),
            str(entry.get("host")),
            str(entry.get("pid")),
            str(entry.get("status")),
            str(entry.get("age_s")),
            str(entry.get("probe") or ""),
            str(entry.get("detail", "")),
        )
    console.print(table)


@app.command()
def token(
    role: Annotated[
        str, typer.Option("--role", "-r", help=f"One of the gateway's roles: {', '.join(ROLES)}.")
    ],
    subject: Annotated[
        str, typer.Option("--subject", "-s", help="Who the token is for (the `sub` claim).")
    ],
    ttl: Annotated[str, typer.Option("--ttl", help="Lifetime: 3600, 30m, 12h, 7d.")] = "12h",
    team: Annotated[
        str | None,
        typer.Option("--team", help="`team` claim (a hint: scoping reads the organisation)."),
    ] = None,
    department: Annotated[
        str | None, typer.Option("--department", help="`department` claim (a hint too).")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Print a signed JWT (HS256) for local use.

    The secret is CRM_JWT_SECRET, or DATA_DIR/jwt.secret (generated on first use).
    Sales and support see their teams' customers, a manager the department's: who is
    in which team is the organisation's (defineTeam, addTeamMember), not the token's.
    """
    from datetime import timedelta

    from ops.tokens import check_role, jwt_secret, mint_token, parse_ttl

    with setting_errors():
        check_role(role)
        settings = settings_from(data_dir=data_dir)
        lifetime = parse_ttl(ttl, most=timedelta(days=settings.max_token_ttl_days))
        typer.echo(
            mint_token(
                jwt_secret(settings),
                role=role,
                subject=subject,
                ttl=lifetime,
                team=team,
                department=department,
            )
        )


# -- process verbs (what `crm up` runs) -----------------------------------------


@app.command()
def gateway(data_dir: DataDir = None, port: Port = None) -> None:
    """Run the HTTP gateway (GraphQL and /healthz) in the foreground."""
    from ops.components import run_gateway

    with setting_errors():
        run_gateway(settings_from(data_dir=data_dir, port=port))


@app.command()
def relay(data_dir: DataDir = None) -> None:
    """Run the outbox relay (event store to Kafka) in the foreground."""
    from ops.components import run_stream_process

    with setting_errors():
        run_stream_process(settings_from(data_dir=data_dir), "relay")


@app.command()
def worker(
    name: Annotated[
        str, typer.Argument(help="Which processor: projections, analytics or lifecycle.")
    ],
    data_dir: DataDir = None,
) -> None:
    """Run one stream processor (Kafka to read models) in the foreground."""
    from ops.components import run_stream_process

    with setting_errors():
        run_stream_process(settings_from(data_dir=data_dir), "worker", name)


def _register_verbs() -> None:
    from ops.verbs import register_all

    register_all(app)


_register_verbs()


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `crm` script."""
    try:
        app(args=argv, prog_name="crm")
    except KeyboardInterrupt:
        raise SystemExit(130) from None
