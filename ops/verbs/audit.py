"""`crm audit …`: compliance work on the event store and everything derived from it.

replay, as-of and export read the event store itself (never a read model) and are
recorded in the access log as reads by the compliance role. A damaged value in the store
does not stop them: it is shown (or exported) as null with its position, and the command
ends with one line naming the positions and exit status 1. verify checks the hash
chain (and the signed checkpoint outside the database); forget erases a customer
everywhere; access lists who read a customer's personal data.

Only typer is imported at module level: every `crm` process imports this package.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ops.actor import cli_actor

if TYPE_CHECKING:
    from uuid import UUID

    from commands.application import CrmApplication
    from ops.config import Settings

audit_app = typer.Typer(
    help="Compliance: replay, as-of, verify the chain, export, forget, access log.",
    no_args_is_help=True,
)

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", "-d", help="Data folder of the running platform.", show_default=False
    ),
]
CustomerId = Annotated[str, typer.Argument(help="The customer's id (UUID).")]
Actor = Annotated[
    str | None,
    typer.Option(
        "--actor",
        help="Who is doing this (recorded; default cli:<login name>).",
        show_default=False,
    ),
]
TimeBasisOption = Annotated[
    str,
    typer.Option(
        "--time",
        help="business: the time events carry (occurredAt); recorded: when they were stored.",
    ),
]
ROLE = "compliance"


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")


# -- helpers ------------------------------------------------------------------------------


def _fail(message: str, code: int = 2) -> typer.Exit:
    from ops.cli import err_console

    err_console.print(f"error: {message}", style="bold red", markup=False)
    return typer.Exit(code)


def _uuid(text: str) -> UUID:
    from uuid import UUID

    try:
        return UUID(text)
    except ValueError:
        raise _fail(f"CUSTOMER_ID: not a UUID: {text!r}") from None


def _time(text: str, name: str) -> Any:
    from compliance.render import parse_time

    try:
        return parse_time(text)
    except ValueError:
        raise _fail(f"{name}: not an ISO 8601 time: {text!r}") from None


def _choice(value: str, allowed: tuple[str, ...], name: str) -> str:
    if value not in allowed:
        raise _fail(f"{name}: {value!r} is not one of {', '.join(allowed)}")
    return value


def _widened_topics(url: str, base: str) -> tuple[str, ...]:
    """The topics `crm topic widen` cut over to: a forgotten customer's sealed events may
    be on each of them, so the scan reads them all."""
    import psycopg

    from streams.topic_cuts import load_cuts

    with psycopg.connect(url, autocommit=True) as conn:
        return tuple(cut.topic for cut in load_cuts(conn, base) if cut.done)


def _settings(data_dir: Path | None) -> Settings:
    from ops.cli import settings_from

    return settings_from(data_dir=data_dir)


def _log_access(
    app: CrmApplication, actor: str, customer_id: UUID, fields: set[str], operation: str
) -> None:
    from compliance.access_log import AccessEntry, append_access

    if fields:
        append_access(
            app, [AccessEntry(actor, ROLE, customer_id, tuple(sorted(fields)), operation)]
        )


def _unknown(error: Exception) -> typer.Exit:
    return _fail(str(error), code=1)


def _fail_if_corrupted(corrupted: Any) -> None:
    """After the output: one line and exit 1 when damaged values were read past."""
    if corrupted:
        from compliance.render import corruption_line

        raise _fail(corruption_line(list(corrupted)), code=1)


# -- replay / as-of -----------------------------------------------------------------------


@audit_app.command()
def replay(
    customer_id: CustomerId,
    until: Annotated[
        str | None,
        typer.Option("--until", help="Stop at this moment (ISO 8601; no zone means UTC)."),
    ] = None,
    basis: TimeBasisOption = "business",
    output: Annotated[str, typer.Option("--format", "-f", help="text, json or csv.")] = "text",
    redact: Annotated[
        bool, typer.Option("--redact", help="Leave personal fields out (no access recorded).")
    ] = False,
    actor: Actor = None,
    data_dir: DataDir = None,
) -> None:
    """Print the customer's full history (its complaints' too), event by event, from the
    event store: position, business and recorded time, actor, correlation and causation
    ids, the event's data and the state after it."""
    from compliance import render
    from compliance.audit import BASES, UnknownCustomer
    from compliance.audit import replay as replay_history
    from ops.cli import setting_errors

    cid = _uuid(customer_id)
    moment = _time(until, "--until") if until else None
    _choice(basis, BASES, "--time")
    _choice(output, render.FORMATS, "--format")
    with setting_errors(), open_app(data_dir) as app:
        try:
            steps = replay_history(app, cid, until=moment, basis=basis, redact=redact)  # type: ignore[arg-type]
        except UnknownCustomer as error:
            raise _unknown(error) from None
        seen = {f for s in steps for f in s.personal_fields if s.data.get(f) is not None}
        _log_access(app, cli_actor(actor), cid, seen, "cli:audit replay")
    if not steps and moment is not None:  # as `as-of` says it, not an empty answer
        raise _fail(f"customer {cid} did not exist yet at {moment.isoformat()}", code=1)
    if output == "json":
        typer.echo(render.replay_json(steps))
    elif output == "csv":
        typer.echo(render.replay_csv(steps), nl=False)
    else:
        for line in render.replay_text(steps):
            typer.echo(line)
    _fail_if_corrupted([c for s in steps for c in s.corrupted])


@audit_app.command("as-of")
def as_of(
    customer_id: CustomerId,
    moment: Annotated[str, typer.Argument(metavar="TIME", help="ISO 8601; no zone means UTC.")],
    basis: TimeBasisOption = "business",
    output: Annotated[str, typer.Option("--format", "-f", help="text or json.")] = "text",
    actor: Actor = None,
    data_dir: DataDir = None,
) -> None:
    """Print the customer (and its complaints) as they were at TIME, from the event store."""
    import json

    from compliance.audit import BASES, UnknownCustomer, state_as_of
    from ops.cli import setting_errors

    cid = _uuid(customer_id)
    at = _time(moment, "TIME")
    _choice(basis, BASES, "--time")
    _choice(output, ("text", "json"), "--format")
    with setting_errors(), open_app(data_dir) as app:
        try:
            found = state_as_of(app, cid, at, basis=basis)  # type: ignore[arg-type]
        except UnknownCustomer as error:
            raise _unknown(error) from None
        if found is not None:
            personal = {"name", "email", "phone", "address"}
            seen = {k for k in personal if found.customer.state.get(k) is not None}
            _log_access(app, cli_actor(actor), cid, seen, "cli:audit as-of")
    if found is None:
        raise _fail(f"customer {cid} did not exist yet at {at.isoformat()}", code=1)
    if output == "json":
        typer.echo(json.dumps(found.as_dict(), ensure_ascii=False, indent=1))
    else:
        from compliance.render import as_of_text

        for line in as_of_text(found):
            typer.echo(line)
    _fail_if_corrupted(found.corrupted)


def open_app(data_dir: Path | None) -> Any:
    from ops.runtime import open_application

    return open_application(_settings(data_dir))


# -- verify -------------------------------------------------------------------------------


@audit_app.command()
def verify(
    start: Annotated[
        int, typer.Option("--from", help="Check from this position (0: the whole store).")
    ] = 0,
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--checkpoint",
            help="Signed head anchor outside the database (default DATA_DIR/audit/"
            "chain-checkpoint.json): checked, then moved to the verified head.",
            show_default=False,
        ),
    ] = None,
    no_checkpoint: Annotated[
        bool, typer.Option("--no-checkpoint", help="Neither check nor write the anchor.")
    ] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Rows per fetch.")] = 20_000,
    data_dir: DataDir = None,
) -> None:
    """Check the hash chain over every recorded event; name the first broken position.

    Exit 0 when intact, 1 when broken (or when the anchor disagrees).
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TimeRemainingColumn,
    )

    from compliance import render
    from compliance.verify import verify_chain
    from ops.cli import setting_errors
    from ops.runtime import database_url

    with setting_errors():
        settings = _settings(data_dir)
        url = database_url(settings)
        with open_app(data_dir) as app:  # creates the chain's tables on an older store
            tables = app.crm_recorder.chain_tables
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TimeRemainingColumn(),
        ) as bar:
            task = bar.add_task("verifying positions", total=None)
            report = verify_chain(
                url,
                tables,
                start=start,
                batch_size=batch_size,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        for line in render.verify_lines(report):
            typer.echo(line)
        if not report.ok:
            raise typer.Exit(1)
        if no_checkpoint:
            return
        path = checkpoint or settings.data_dir / "audit" / "chain-checkpoint.json"
        _check_anchor(settings, url, tables, path, report)


def _check_anchor(settings: Settings, url: str, tables: Any, path: Path, report: Any) -> None:
    import psycopg

    from compliance.checkpoint import (
        Checkpoint,
        CheckpointInvalid,
        checkpoint_key,
        compare,
        load_checkpoint,
        write_checkpoint,
    )
    from compliance.verify import chain_head, link_at
    from ops.keys import master_key

    key = checkpoint_key(master_key(settings))
    try:
        anchored = load_checkpoint(path, key)
    except CheckpointInvalid as error:
        raise _fail(f"checkpoint: {error}", code=1) from None
    with psycopg.connect(url, autocommit=True) as conn:
        database = _database_identity(conn)
        if anchored is not None:
            if anchored.database != database:
                typer.echo(
                    f"warning: {path} anchors {anchored.database}, this is {database}; not compared"
                )
            else:
                problem = compare(anchored, link_at(conn, tables, anchored.position))
                if problem:
                    raise _fail(f"checkpoint: {problem}", code=1)
                typer.echo(
                    f"checkpoint agrees: position {anchored.position} anchored "
                    f"{anchored.written_at} is unchanged"
                )
        head = chain_head(conn, tables)
    if head is None:
        return
    foreign = anchored is not None and anchored.database != database
    if foreign or (anchored is not None and head[0] < anchored.position):
        return
    write_checkpoint(path, Checkpoint.now(database, head[0], head[1], report.checked), key)
    typer.echo(f"checkpoint written: {path} (position {head[0]}; keep a copy elsewhere)")


def _database_identity(conn: Any) -> str:
    import psycopg

    name = conn.execute("SELECT current_database()").fetchone()[0]
    try:
        row = conn.execute("SELECT system_identifier FROM pg_control_system()").fetchone()
        system = str(row[0]) if row else "?"
    except psycopg.Error:
        system = "?"
    return f"postgres:{system}/{name}"


# -- export / forget / access ---------------------------------------------------------------


@audit_app.command()
def export(
    customer_id: CustomerId,
    out: Annotated[Path, typer.Option("--out", "-o", help="The JSON file to write.")],
    actor: Actor = None,
    data_dir: DataDir = None,
) -> None:
    """Write everything the platform holds about the customer (events, read-model rows,
    analytics rows, access log) as one JSON document with a manifest and a checksum."""
    from compliance.audit import UnknownCustomer
    from compliance.export import (
        build_export,
        corrupted_of,
        personal_fields_read,
        write_export,
    )
    from ops.cli import setting_errors
    from ops.out_file import check_out_file
    from ops.runtime import database_url

    cid = _uuid(customer_id)
    who = cli_actor(actor)
    with setting_errors():
        check_out_file(out, "--out", make_folder=True)
        settings = _settings(data_dir)
        url = database_url(settings)
        with open_app(data_dir) as app:
            try:
                document = build_export(
                    app,
                    url,
                    cid,
                    analytics_root=settings.analytics_path.parent,
                    generated_by=who,
                )
            except UnknownCustomer as error:
                raise _unknown(error) from None
            _log_access(app, who, cid, personal_fields_read(document), "cli:audit export")
    write_export(out, document)
    sections = document["manifest"]["sections"]
    counts = ", ".join(f"{name} {entry['items']}" for name, entry in sections.items())
    typer.echo(f"wrote {out}: {counts}")
    typer.echo(f"checksum sha256 {document['checksum']}")
    _fail_if_corrupted(corrupted_of(document))


@audit_app.command()
def forget(
    customer_id: CustomerId,
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded in the event).")],
    actor: Actor = None,
    no_scan: Annotated[
        bool, typer.Option("--no-scan", help="Skip the search for leftovers afterwards.")
    ] = False,
    scan_topic: Annotated[
        bool, typer.Option("--scan-topic", help="Also read the whole Kafka topic.")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Erase the customer's personal data everywhere (right to erasure).

    Records CustomerForgotten (destroying the customer's key: the event store and the
    topic keep only unreadable ciphertext), scrubs read models and analytics at once,
    then searches every table and analytics file for the customer's old values.
    Exit 1 if any are found.
    """
    from aggregates.errors import DomainError, ValidationFailed
    from compliance.audit import UnknownCustomer
    from compliance.erasure import SearchScope, erase
    from ops.cli import setting_errors
    from ops.runtime import database_url, kafka_bootstrap

    cid = _uuid(customer_id)
    with setting_errors():
        settings = _settings(data_dir)
        url = database_url(settings)
        root = settings.analytics_path.parent
        topic = (kafka_bootstrap(settings), settings.kafka_topic) if scan_topic else None
        scope = (
            None
            if no_scan
            else SearchScope(
                database=True,
                files=root,
                topic=topic,
                widened_topics=_widened_topics(url, settings.kafka_topic) if topic else (),
                topic_security=settings.kafka_security,
            )
        )
        with open_app(data_dir) as app:
            try:
                receipt = erase(
                    app,
                    url,
                    cid,
                    reason=reason,
                    actor=cli_actor(actor),
                    analytics_root=root,
                    scope=scope,
                )
            except UnknownCustomer as error:
                raise _unknown(error) from None
            except DomainError as error:  # a bad --reason: nothing was written
                where = f"{error.field}: " if error.field else ""
                code = 2 if isinstance(error, ValidationFailed) else 1
                raise _fail(f"{where}{error.message}", code=code) from None
    if receipt.already_forgotten:
        typer.echo(f"customer {cid} was already forgotten; scrubbed again")
    else:
        typer.echo(f"customer {cid} forgotten at position {receipt.position}; key destroyed")
    typer.echo(f"read models: {receipt.read_model_events_applied} events applied now")
    scrubbed = ", ".join(receipt.analytics_scrubbed) or "nothing held the customer"
    typer.echo(f"analytics: {scrubbed}")
    if receipt.searched:
        typer.echo(f"searched {'; '.join(receipt.searched)} for {len(receipt.needles)} old values")
    for finding in receipt.findings:
        typer.echo(f"FOUND: {finding}")
    if receipt.findings:
        raise typer.Exit(1)
    if receipt.searched:
        typer.echo("nothing found")


@audit_app.command()
def access(
    customer_id: CustomerId,
    since: Annotated[str | None, typer.Option("--since", help="From (ISO 8601).")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Until (ISO 8601).")] = None,
    output: Annotated[str, typer.Option("--format", "-f", help="text, json or csv.")] = "text",
    data_dir: DataDir = None,
) -> None:
    """Who read the customer's personal data, when, in which role, through what."""
    import json

    from compliance import render
    from compliance.access_log import access_history
    from ops.cli import setting_errors

    cid = _uuid(customer_id)
    low = _time(since, "--since") if since else None
    high = _time(until, "--until") if until else None
    _choice(output, render.FORMATS, "--format")
    with setting_errors(), open_app(data_dir) as app:
        records = access_history(app, cid, since=low, until=high)
    if output == "json":
        typer.echo(json.dumps(render.access_rows(records), ensure_ascii=False, indent=1))
    elif output == "csv":
        typer.echo(render.access_csv(records), nl=False)
    else:
        for line in render.access_text(records):
            typer.echo(line)


@audit_app.command()
def bench(
    events: Annotated[
        int, typer.Option("--events", help="Events in the store for verify.")
    ] = 1_000_000,
    customer_events: Annotated[
        int, typer.Option("--customer-events", help="Events of the as-of customer.")
    ] = 10_000,
    quick: Annotated[bool, typer.Option("--quick", help="Tiny sizes: a smoke run.")] = False,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Results folder (default bench/results).")
    ] = None,
) -> None:
    """Benchmark (not a test): verify rate over EVENTS events, as-of latency for one
    customer with CUSTOMER_EVENTS events (snapshots on). Writes a JSON result file."""
    from bench import RESULTS_DIR
    from bench.audit_bench import AuditBenchConfig, run_audit_bench
    from ops.cli import console, setting_errors

    with setting_errors():
        settings = _settings(None)
        config = AuditBenchConfig.make(quick=quick, events=events, customer_events=customer_events)
        run_audit_bench(settings.database_url, config, out or RESULTS_DIR, console)
