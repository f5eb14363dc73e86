"""The commands benchmark runs for real on tiny sizes; only the SHAPE of its results is
checked (keys, positive counts), never its speed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from bench.commands import MEASUREMENTS, BenchConfig, run_commands_bench, table, write_result
from chaos.running import clean_env, crm_argv

pytestmark = pytest.mark.integration

TINY = BenchConfig(
    quick=True,
    operations=30,
    repeats=1,
    clients=3,
    bulk_customers=8,
    batch=4,
    window=0.002,
    workers=1,
)


def check_shape(result: dict[str, Any], config: BenchConfig) -> None:
    assert result["benchmark"] == "commands"
    assert result["quick"] is True
    assert result["config"]["repeats"] == config.repeats
    assert result["machine"]["cpus"] >= 1 and result["machine"]["postgres"]
    assert len(result["machine"]["loadavg_before"]) == 3
    results = result["results"]
    assert set(results) == set(MEASUREMENTS)
    for name in MEASUREMENTS:
        unit = "events" if name == "bulk" else "commands"
        entry = results[name]
        assert entry[f"{unit}_per_s"]["median"] > 0
        assert len(entry[f"{unit}_per_s"]["runs"]) == config.repeats
        assert entry[unit] > 0 and entry["seconds"] > 0
        if name != "bulk":  # bulk's clock leaves out its workers' start: no CPU figure
            cpu = entry["cpu_ms_per_command"]  # the bench process, PostgreSQL
            assert cpu["Python"] > 0 and cpu["PostgreSQL"] >= 0, (name, cpu)
            assert entry[unit] == config.operations * config.repeats
            assert 0 < entry["latency_ms"]["p50"] <= entry["latency_ms"]["p99"]
    assert results["group_shared"]["mean_round_size"] >= 1
    assert set(result["ratios"]) == {f"{n}_vs_baseline" for n in MEASUREMENTS if n != "baseline"}
    assert all(value > 0 for value in result["ratios"].values())
    for target in result["targets"].values():
        assert set(target) == {"target", "measured", "met"} and target["measured"] > 0


def test_the_harness_measures_every_path_and_writes_its_results(
    database_url: str, tmp_path: Path
) -> None:
    result = run_commands_bench(database_url, TINY, log=lambda message: None)
    check_shape(result, TINY)
    path = write_result(result, tmp_path)
    assert path.name.endswith("-commands.json")
    assert json.loads(path.read_text()) == result
    console = Console(record=True, width=160)
    console.print(table(result))
    assert "plain" in console.export_text()


def test_crm_bench_commands_quick_writes_a_result_file(database_url: str, tmp_path: Path) -> None:
    out = tmp_path / "results"
    done = subprocess.run(
        crm_argv("bench", "commands", "--quick", "--repeats", "1", "--out", str(out)),
        env=clean_env({"CRM_DATABASE_URL": database_url, "CRM_DATA_DIR": str(tmp_path)}),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    [written] = out.glob("*-commands.json")
    run = json.loads(written.read_text())
    check_shape(run["scenarios"]["commands"], BenchConfig.make(quick=True, repeats=1))
    assert written.with_suffix(".md").exists()
    assert str(written) in done.stdout.replace("\n", "")
