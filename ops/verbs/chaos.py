"""`crm chaos`: the fault suite (ops/chaos) on a real `crm up` of its own."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def chaos(
        quick: Annotated[
            bool, typer.Option("--quick", help="The CI form: one kill of each part, ~1 min.")
        ] = False,
        inject: Annotated[
            bool,
            typer.Option(
                "--inject/--no-inject",
                help="Also put poison and forged messages on the topic and expect them parked.",
            ),
        ] = True,
        out: Annotated[
            Path | None,
            typer.Option(
                "--out", "-o", help="Results folder (default bench/results).", show_default=False
            ),
        ] = None,
    ) -> None:
        """Drive load while killing the relay, each worker, the broker and PostgreSQL; then
        check nothing was lost or doubled anywhere, `crm check`, `crm audit verify`, the
        parking lot and that /healthz was 200 only while reads worked. Exit 1 on a failure."""
        from bench import RESULTS_DIR
        from chaos import ChaosConfig, ChaosFailed
        from chaos.run import run_chaos
        from ops.cli import console

        config = ChaosConfig.make(quick=quick, inject=inject)
        try:
            run_chaos(config, out or RESULTS_DIR, lambda m: console.print(f"[dim]chaos[/dim] {m}"))
        except ChaosFailed as error:
            console.print(f"[red]FAILED[/red] {error}", soft_wrap=True)
            raise typer.Exit(1) from None
        console.print("chaos: every check passed")
