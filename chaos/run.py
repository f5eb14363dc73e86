"""One run of the fault suite: load, kills, (injection), verification, a result file."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chaos import RECOVERY_TARGET_S, TARGETS, ChaosConfig, ChaosFailed
from chaos.faults import Recovery, kill_and_recover
from chaos.inject import Injected, inject
from chaos.load import Ledger, Load
from chaos.platform import api_factory, master_key, platform_up
from chaos.running import PlatformProcess
from chaos.sampler import HealthSamples, Sampler
from chaos.verify import Tally, crm, parked_problems

Log = Callable[[str], None]


def _wait_for_first_customer(load: Load, ledger: Ledger, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while not ledger.customers:
        if load.errors or time.monotonic() > deadline:
            raise ChaosFailed(f"no write accepted at the start: {load.errors}")
        time.sleep(0.05)
    return ledger.customers[0]


def _faults(
    platform: PlatformProcess, config: ChaosConfig, load: Load, ledger: Ledger, log: Log
) -> list[Recovery]:
    probe = api_factory(platform)()
    recoveries = []
    try:
        for round_no in range(config.rounds):
            for target in TARGETS:
                time.sleep(config.settle_s)
                if load.errors:
                    raise ChaosFailed(f"a writer failed: {load.errors[0]!r}")
                recovery = kill_and_recover(platform, target, probe, ledger)
                log(
                    f"round {round_no + 1}: kill -9 {target}: healthy after "
                    f"{recovery.healthy_s:.1f}s, fresh write visible after "
                    f"{recovery.write_visible_s:.1f}s"
                )
                recoveries.append(recovery)
    finally:
        probe.close()
    return recoveries


def _verify(
    platform: PlatformProcess, ledger: Ledger, injected: list[Injected], log: Log
) -> dict[str, Any]:
    from bootstrap import open_store
    from chaos.verify import analytics_tally, read_model_tally, settled, store_tally

    endpoints = platform.endpoints()
    database_url = str(endpoints["database"])
    catalog = Path(endpoints["analytics"]["duckdb"])
    app = open_store(database_url, master_key(platform.data_dir), kind="probe")
    try:
        copies = [store_tally(app, ledger)]
    finally:
        app.close()
    log("waiting for the read models and analytics to catch up")
    copies.append(settled(lambda: read_model_tally(database_url, ledger), 120))
    copies.append(settled(lambda: analytics_tally(catalog, ledger), 180))
    check = crm(platform.data_dir, "check", "--no-docs")
    audit = crm(platform.data_dir, "audit", "verify")
    problems = [p for c in copies for p in c.problems]
    problems += [
        f"{r.argv[1]} {r.argv[2]} exited {r.code}: {r.tail}" for r in (check, audit) if r.code
    ]
    parked: list[Any] = []
    if injected:
        parked, parked_wrong = parked_problems(platform.data_dir, injected)
        problems += parked_wrong
    return {
        "copies": {c.name: _copy(c) for c in copies},
        "crm_check": check.as_dict(),
        "audit_verify": audit.as_dict(),
        "injected": [i.__dict__ for i in injected],
        "parked": parked,
        "problems": problems,
    }


def _copy(tally: Tally) -> dict[str, int]:
    return {
        "lost": tally.lost,
        "duplicated": tally.duplicated,
        "unexpected": tally.unexpected,
        "wrong_totals": tally.wrong_totals,
    }


def _recovery_figures(recoveries: list[Recovery]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for target in TARGETS:
        times = [r.write_visible_s for r in recoveries if r.target == target]
        if times:
            figures[target] = {
                "median_s": round(statistics.median(times), 2),
                "max_s": round(max(times), 2),
                "runs": [r.as_dict() for r in recoveries if r.target == target],
                "met": max(times) <= RECOVERY_TARGET_S,
            }
    return figures


def run_chaos(config: ChaosConfig, out_dir: Path, log: Log) -> dict[str, Any]:
    """The whole run; writes `<out>/<UTC stamp>-chaos.json`; ChaosFailed when a check fails."""
    started = datetime.now(UTC)
    ledger = Ledger()
    with platform_up() as platform:
        log(
            f"platform healthy in {platform.healthy_after:.1f}s; load with {config.writers} writers"
        )
        load = Load(api_factory(platform), ledger, config.customers)
        load.start(config.writers)
        sampler = Sampler(platform, api_factory(platform)(), _wait_for_first_customer(load, ledger))
        sampler.start()
        try:
            recoveries = _faults(platform, config, load, ledger, log)
            injected: list[Injected] = []
            if config.inject:
                kafka = platform.endpoints()["kafka"]
                injected = inject(kafka["bootstrap"], kafka["topic"], master_key(platform.data_dir))
                log(f"injected {len(injected)} poison/forged messages")
            time.sleep(config.settle_s)
        finally:
            load.stop()
            samples = sampler.stop()
        log(f"load stopped: {ledger.writes} writes accepted in {load.seconds:.0f}s")
        verification = _verify(platform, ledger, injected, log)
    doc = _document(config, started, load, ledger, recoveries, samples, verification)
    path = _write(doc, out_dir, started)
    log(f"results: {path}")
    failures = list(verification["problems"])
    if samples.lies:
        failures.append(f"/healthz said 200 while reads failed {samples.lies}x")
    if load.errors:
        failures.append(f"writers failed: {load.errors!r}")
    if failures:
        raise ChaosFailed("; ".join(failures) + f" (see {path})")
    return doc


def _document(
    config: ChaosConfig,
    started: datetime,
    load: Load,
    ledger: Ledger,
    recoveries: list[Recovery],
    samples: HealthSamples,
    verification: dict[str, Any],
) -> dict[str, Any]:
    copies = verification["copies"]
    return {
        "benchmark": "chaos",
        "size": "quick" if config.quick else "full",
        "config": config.__dict__,
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "results": {
            "load": {
                "seconds": round(load.seconds, 1),
                "writes_accepted": ledger.writes,
                "customers": len(ledger.customers),
                "purchases": len(ledger.purchases),
                "writes_per_s": round(ledger.writes / load.seconds, 1) if load.seconds else 0,
                "writes_retried": ledger.retried,
            },
            "kills": len(recoveries),
            "recovery": _recovery_figures(recoveries),
            "health_samples": samples.__dict__,
            "lost": sum(c["lost"] for c in copies.values()),
            "duplicated": sum(c["duplicated"] for c in copies.values()),
            **verification,
        },
    }


def _write(doc: dict[str, Any], out_dir: Path, started: datetime) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{started.strftime('%Y%m%dT%H%M%SZ')}-chaos.json"
    path.write_text(json.dumps(doc, indent=2, default=str))
    return path
