"""`crm topic widen --partitions N` and `crm topic show`: widen the live topic by a cut-over.

The events topic is never given partitions in place (keys would move and a customer's
newer events could overtake older ones; Tansu refuses it anyway). `widen` creates
`<topic>.p<N>` with N partitions and the configured replication factor, records the
request, and waits for the leading relay to make the cut (`streams.topic_cuts`): events
up to the cut stay on the old topic, later ones go to the new one, and the workers move
once their group has read the old topic to the cut. docs/streams.md, "Widening".
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    import psycopg

    from ops.config import Settings
    from streams.topic_cuts import Cut

topic_app = typer.Typer(
    help="The events topic: show where events go, widen it to more partitions.",
    no_args_is_help=True,
)

DataDir = Annotated[
    str | None,
    typer.Option("--data-dir", "-d", help="Data folder of the running platform (CRM_DATA_DIR)."),
]
EXIT_NOT_CUT = 3
"""`widen` recorded the request but no relay made the cut within the wait."""
POLL_SECONDS = 0.2


def register(app: typer.Typer) -> None:
    app.add_typer(topic_app, name="topic")


def _describe(cut: Cut) -> str:
    ends = ", ".join(f"{p}:{e}" for p, e in sorted((cut.ends or {}).items())) or "none"
    return (
        f"cut {cut.seq}: events up to position {cut.position} are on the old topic "
        f"(partition ends {ends}); later events go to {cut.topic} ({cut.partitions} partitions)"
    )


def _wait_for_cut(conn: psycopg.Connection[Any], base: str, seq: int, timeout: float) -> Cut | None:
    from streams.topic_cuts import load_cuts

    deadline = time.monotonic() + timeout
    while True:
        made = next((c for c in load_cuts(conn, base) if c.seq == seq and c.done), None)
        if made is not None or time.monotonic() >= deadline:
            return made
        time.sleep(POLL_SECONDS)


def widen_topic(settings: Settings, partitions: int, wait: float) -> Cut | None:
    """Request the cut (creating the new topic first); the cut once made, None if not yet."""
    import psycopg

    from ops.errors import SettingError
    from ops.runtime import database_url, kafka_bootstrap
    from streams.topic import ensure_topic, partition_count
    from streams.topic_cuts import current, load_cuts, pending, request_cut, widened_name

    base, security = settings.kafka_topic, settings.kafka_security
    bootstrap = kafka_bootstrap(settings)
    with psycopg.connect(database_url(settings), autocommit=True) as conn:
        cuts = load_cuts(conn, base)
        waiting = pending(cuts)
        if waiting is not None:
            raise SettingError(
                "--partitions",
                f"a widening to {waiting.topic} is already waiting for the relay "
                "[WIDENING_PENDING]",
            )
        now = current(base, cuts)
        have = partition_count(bootstrap, now, security)
        if have == 0:
            raise SettingError("CRM_KAFKA_TOPIC", f"topic {now!r} does not exist on {bootstrap}")
        if partitions <= have:
            raise SettingError(
                "--partitions",
                f"must be more than the {have} partitions of {now!r} "
                "(partitions are only ever added) [PARTITIONS_NOT_MORE]",
            )
        wanted = widened_name(base, partitions)
        ensure_topic(bootstrap, wanted, partitions, security, settings.kafka_replication_factor)
        cut = request_cut(conn, base, wanted, partitions, settings.kafka_replication_factor)
        if cut.topic != wanted:  # another `widen` got in between
            raise SettingError(
                "--partitions", f"a widening to {cut.topic} was just requested [WIDENING_PENDING]"
            )
        return _wait_for_cut(conn, base, cut.seq, wait)


@topic_app.command()
def widen(
    partitions: Annotated[
        int, typer.Option("--partitions", min=2, max=1000, help="Partitions of the new topic.")
    ],
    wait: Annotated[
        float, typer.Option("--wait", min=0, help="Seconds to wait for the relay's cut.")
    ] = 60.0,
    data_dir: DataDir = None,
) -> None:
    """Move later events to a new topic with more partitions; no customer's order changes."""
    from ops.cli import console, err_console, setting_errors, settings_from

    with setting_errors():
        made = widen_topic(settings_from(data_dir=data_dir), partitions, wait)
    if made is None:
        err_console.print(
            f"requested, not cut yet: no relay made the cut within {wait:g} s "
            "(is a `crm relay` running?); the leading relay makes it when it runs",
            markup=False,
        )
        raise typer.Exit(EXIT_NOT_CUT)
    console.print(_describe(made), markup=False)


@topic_app.command()
def show(data_dir: DataDir = None) -> None:
    """The topic events go to now, and every cut made so far."""
    import psycopg

    from ops.cli import console, setting_errors, settings_from
    from ops.runtime import database_url
    from streams.topic_cuts import current, current_partitions, load_cuts

    with setting_errors():
        settings = settings_from(data_dir=data_dir)
        base = settings.kafka_topic
        with psycopg.connect(database_url(settings), autocommit=True) as conn:
            cuts = load_cuts(conn, base)
    partitions, _ = current_partitions(cuts, settings.kafka_partitions)
    console.print(f"events go to {current(base, cuts)} ({partitions} partitions)", markup=False)
    for cut in cuts:
        console.print(_describe(cut) if cut.done else f"cut {cut.seq}: requested", markup=False)
