"""`crm sql`, `crm report`, `crm analytics rebuild|compact|views`: the analysts' verbs.

Everything reads the DuckDB catalog (read-only, as an analyst would) at the path in
`endpoints.json` (``DATA_DIR/analytics/analytics.duckdb``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import contextmanager
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
    """Call inside `setting_errors()`: a wrong setting is one line and exit 2."""
    from ops.cli import settings_from
    from projections.analytics.layout import AnalyticsLayout

    return AnalyticsLayout.for_catalog(settings_from(data_dir=data_dir).analytics_path)


@contextmanager
def _catalog(layout: AnalyticsLayout) -> Iterator[duckdb.DuckDBPyConnection]:
    """The catalog, read-only, closed afterwards; a SettingError when there is none."""
    from ops.cli import settings_from
    from ops.errors import SettingError
    from projections.analytics.catalog import connect
    from projections.analytics.parquet import reading

    if not layout.catalog.exists():
        raise SettingError(
            "CRM_DATA_DIR",
            f"no analytics catalog at {layout.catalog}: start the platform (`crm up`) "
            "or build it from the event store (`crm analytics rebuild`)",
        )
    with reading(layout):
        con = connect(layout, zone=settings_from().timezone)
        try:
            yield con
        finally:
            con.close()


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

    from ops.cli import setting_errors
    from ops.errors import SettingError
    from ops.out_file import check_out_file
    from ops.sql_output import write_result

    with setting_errors():
        if output is OutputFormat.parquet and out is None:
            raise SettingError("--out", "the parquet format writes a file; name it with --out")
        if max_rows < 0:
            raise SettingError("--max-rows", f"must be 0 or more, not {max_rows}")
        if out is not None:
            check_out_file(out, "--out")
        with _catalog(_layout(data_dir)) as con:
            try:
                _check_one_select(con, query)
                relation = con.sql(query)
                if relation is None:
                    raise SettingError("QUERY", "returns no rows (the catalog is read-only)")
                write_result(relation, output.value, out, max_rows)
            except duckdb.Error as error:
                raise SettingError("QUERY", str(error)) from None
            except OSError as error:  # --out: a folder, a missing folder, no permission
                raise SettingError("--out", f"{error.strerror}: {error.filename}") from None


def _check_one_select(con: duckdb.DuckDBPyConnection, query: str) -> None:
    """One SELECT (or EXPLAIN of one): `crm sql` reads; COPY, ATTACH, SET and the like
    are refused by name, and a second statement would print only its own result."""
    import duckdb

    from ops.errors import SettingError

    statements = con.extract_statements(query)
    if len(statements) != 1:
        raise SettingError("QUERY", f"one statement at a time, not {len(statements)}")
    kind = statements[0].type
    if kind not in (duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN):
        raise SettingError("QUERY", f"a read-only SELECT, not {kind.name}")


def report(
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="HTML file (default DATA_DIR/analytics).")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Write an HTML report with charts: funnel, lifecycle and tier, cohort retention,
    revenue by month."""
    from ops.cli import setting_errors, settings_from
    from ops.out_file import check_out_file
    from projections.analytics.report import write_report

    with setting_errors():
        layout = _layout(data_dir)
        target = out or layout.report_file
        check_out_file(target, "--out")
        with _catalog(layout) as con:
            write_report(con, target, zone=settings_from(data_dir=data_dir).timezone)
    typer.echo(f"report: {target}")


@analytics_app.command()
def rebuild(data_dir: DataDir = None) -> None:
    """Rewrite every analytics file from the event store (stop the analytics worker first)."""
    from ops.cli import setting_errors, settings_from
    from ops.progress import progress_bar
    from ops.runtime import open_application
    from projections.analytics.layout import AnalyticsLayout
    from streams.analytics_rebuild import rebuild_analytics

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
                zone=settings.timezone,
            )
    typer.echo(f"rebuilt analytics from {count} events: {layout.catalog}")


@analytics_app.command()
def compact(data_dir: DataDir = None) -> None:
    """Fold the micro-batch parts of every dataset into its compact file now."""
    from ops.cli import setting_errors
    from ops.errors import SettingError
    from projections.analytics.parquet import compact_all

    with setting_errors():
        layout = _layout(data_dir)
        if not layout.root.exists():
            raise SettingError("CRM_DATA_DIR", f"no analytics files under {layout.root}")
    for name, folded in compact_all(layout).items():
        typer.echo(f"{name}: folded {folded} parts")


@analytics_app.command()
def views(data_dir: DataDir = None) -> None:
    """List the catalog's views and macros with their columns."""
    from ops.cli import setting_errors

    with setting_errors(), _catalog(_layout(data_dir)) as con:
        rows = con.execute(
            "SELECT table_name, string_agg(column_name, ', ' ORDER BY ordinal_position) "
            "FROM information_schema.columns WHERE table_name NOT LIKE 'ds\\_%' ESCAPE '\\' "
            "AND table_name <> 'catalog_info' GROUP BY 1 ORDER BY 1"
        ).fetchall()
        macros = con.execute(
            "SELECT DISTINCT function_name FROM duckdb_functions() "
            "WHERE function_type = 'table_macro' AND NOT internal ORDER BY 1"
        ).fetchall()
    for name, columns in rows:
        typer.echo(f"{name}: {columns}")
    typer.echo("table macros: " + ", ".join(m[0] for m in macros))


def check(
    data_dir: DataDir = None,
    docs: Annotated[bool, typer.Option(help="Write the Great Expectations data docs.")] = True,
) -> None:
    """Run every data-quality suite (read models, analytics views, reconciliation with the
    event store); print a summary, write the data docs, exit 1 when any check fails."""
    from rich.table import Table

    from ops.cli import console, setting_errors, settings_from
    from ops.quality.check import check_platform
    from ops.runtime import database_url, open_application
    from projections.analytics.layout import AnalyticsLayout

    with setting_errors():
        settings = settings_from(data_dir=data_dir)
        layout = AnalyticsLayout.for_catalog(settings.analytics_path)
        with _catalog(layout) as catalog, open_application(settings, pool_size=2) as app:
            report = check_platform(
                app, database_url(settings), catalog, layout.docs_dir, build_docs=docs
            )
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
