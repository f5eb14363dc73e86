"""`crm sql`, `crm report`, `crm analytics rebuild|compact|views`: the analysts' verbs.

Everything reads the DuckDB catalog (read-only, as an analyst would) at the path in
`endpoints.json` (``DATA_DIR/analytics/analytics.duckdb``).
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    import duckdb

    from projections.analytics.layout import AnalyticsLayout

analytics_app = typer.Typer(
    help="Analytics files and DuckDB catalog: rebuild, compact, list views.",
    no_args_is_help=True,
)

DataDir = Annotated[
    str | None, typer.Option("--data-dir", "-d", help="Data folder (CRM_DATA_DIR, default ./.crm).")
]


class OutputFormat(enum.StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    parquet = "parquet"


def register(app: typer.Typer) -> None:
    app.add_typer(analytics_app, name="analytics")
    app.command("sql")(sql)
    app.command("report")(report)
    app.command("check")(check)


def _layout(data_dir: str | None) -> AnalyticsLayout:
    from ops.cli import settings_from
    from projections.analytics.layout import AnalyticsLayout

    return AnalyticsLayout.for_catalog(settings_from(data_dir=data_dir).analytics_path)


def _fail(message: str, code: int = 2) -> typer.Exit:
    from ops.cli import err_console

    err_console.print(f"error: {message}", style="bold red", markup=False)
    return typer.Exit(code)


def _open_catalog(data_dir: str | None) -> duckdb.DuckDBPyConnection:
    from ops.cli import setting_errors
    from projections.analytics.catalog import connect

    with setting_errors():
        layout = _layout(data_dir)
    if not layout.catalog.exists():
        raise _fail(
            f"no analytics catalog at {layout.catalog}: start the platform (`crm up`) "
            "or build it from the event store (`crm analytics rebuild`)"
        )
    return connect(layout)


def sql(
    query: Annotated[str, typer.Argument(help="A DuckDB SELECT over the catalog's views.")],
    output: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="How to print the result.")
    ] = OutputFormat.table,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write to this file (needed for parquet).")
    ] = None,
    max_rows: Annotated[int, typer.Option(help="Rows shown by the table format.")] = 100,
    data_dir: DataDir = None,
) -> None:
    """Run a query against the analytics catalog (views: events, customers, purchases,
    funnel, cohorts, rfm, complaints, merges; macros customers_at(ts), rfm_at(ts),
    funnel_between(from, to, source))."""
    import duckdb

    from projections.analytics.output import write_result

    if output is OutputFormat.parquet and out is None:
        raise _fail("--out: the parquet format writes a file; name it with --out FILE")
    con = _open_catalog(data_dir)
    try:
        relation = con.sql(query)
        if relation is None:
            raise _fail("QUERY: not a query that returns rows (the catalog is read-only)")
        write_result(relation, output.value, out, max_rows)
    except duckdb.Error as error:
        raise _fail(f"QUERY: {error}") from None
    finally:
        con.close()


def report(
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="HTML file (default DATA_DIR/analytics).")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Write an HTML report with charts: funnel, lifecycle and tier, cohort retention,
    revenue by month."""
    from projections.analytics.report import write_report

    con = _open_catalog(data_dir)
    layout = _layout(data_dir)
    target = out or layout.report_file
    try:
        write_report(con, target)
    finally:
        con.close()
    typer.echo(f"report: {target}")


@analytics_app.command()
def rebuild(data_dir: DataDir = None) -> None:
    """Rewrite every analytics file from the event store (stop the analytics worker first)."""
    from ops.cli import setting_errors, settings_from
    from ops.progress import progress_bar
    from ops.runtime import open_application
    from projections.analytics.layout import AnalyticsLayout
    from projections.analytics.rebuild import rebuild_analytics

    with setting_errors():
        settings = settings_from(data_dir=data_dir)
        layout = AnalyticsLayout.for_catalog(settings.analytics_path)
        with (
            open_application(settings) as app,
            progress_bar("replaying events") as progress,
        ):
            count = rebuild_analytics(
                app,
                layout,
                progress=progress,
            )
    typer.echo(f"rebuilt analytics from {count} events: {layout.catalog}")


@analytics_app.command()
def compact(data_dir: DataDir = None) -> None:
    """Fold the micro-batch parts of every dataset into its compact file now."""
    from ops.cli import setting_errors
    from projections.analytics.parquet import compact_all

    with setting_errors():
        layout = _layout(data_dir)
    if not layout.root.exists():
        raise _fail(f"no analytics files under {layout.root}")
    for name, folded in compact_all(layout).items():
        typer.echo(f"{name}: folded {folded} parts")


@analytics_app.command()
def views(data_dir: DataDir = None) -> None:
    """List the catalog's views and macros with their columns."""
    con = _open_catalog(data_dir)
    try:
        rows = con.execute(
            "SELECT table_name, string_agg(column_name, ', ' ORDER BY ordinal_position) "
            "FROM information_schema.columns WHERE table_name NOT LIKE 'ds\\_%' ESCAPE '\\' "
            "AND table_name <> 'catalog_info' GROUP BY 1 ORDER BY 1"
        ).fetchall()
        for name, columns in rows:
            typer.echo(f"{name}: {columns}")
        macros = con.execute(
            "SELECT DISTINCT function_name FROM duckdb_functions() "
            "WHERE function_type = 'table_macro' AND NOT internal ORDER BY 1"
        ).fetchall()
        typer.echo("table macros: " + ", ".join(m[0] for m in macros))
    finally:
        con.close()


def check(
    data_dir: DataDir = None,
    docs: Annotated[bool, typer.Option(help="Write the Great Expectations data docs.")] = True,
) -> None:
    """Run every data-quality suite (read models, analytics views, reconciliation with the
    event store); print a summary, write the data docs, exit 1 when any check fails."""
    from rich.console import Console
    from rich.table import Table

    from ops.cli import setting_errors, settings_from
    from ops.runtime import database_url, open_application
    from projections.quality.check import check_platform

    catalog = _open_catalog(data_dir)
    with setting_errors():
        settings = settings_from(data_dir=data_dir)
        layout = _layout(data_dir)
        with open_application(settings, pool_size=2) as app:
            report = check_platform(
                app, database_url(settings), catalog, layout.docs_dir, build_docs=docs
            )
    catalog.close()
    console = Console()
    table = Table("suite", "checks", "failed", title="data quality")
    suites: dict[str, list[bool]] = {}
    for outcome in report.outcomes:
        suites.setdefault(outcome.suite, []).append(outcome.success)
    for suite, results in suites.items():
        failed = results.count(False)
        table.add_row(suite, str(len(results)), f"[red]{failed}[/red]" if failed else "0")
    console.print(table)
    for failure in report.failures:
        console.print(
            f"[red]FAILED[/red] {failure.suite}: {failure.expectation} on {failure.target}: "
            f"{failure.detail}",
            markup=True,
            soft_wrap=True,  # one failure per line, whole, for logs and grep
        )
    if report.docs_index:
        console.print(f"data docs: {report.docs_index}")
    passed = len(report.outcomes) - len(report.failures)
    console.print(f"{passed}/{len(report.outcomes)} checks passed")
    if not report.success:
        raise typer.Exit(1)
