"""`crm bench recovery`: after a `kill -9` of each part, how long until the platform serves.

For PostgreSQL, the broker, the relay and each worker, under a light GraphQL load on a
real `crm up` of its own (the suite's servers are not used: the kills need the
supervisor): seconds until `/healthz` is 200 again AND a write made after the kill is
visible in a read. Target: at most 5 s each (issue 11). The kill and the measurement
are the fault suite's (`chaos.faults`).

Measured twice in one run: as `crm up` starts by default (two gateways, two relays, two
members per topic worker: a killed one is covered by its twin while the supervisor
restarts it) and with one process per component (`--gateways 1 --relays 1 --workers 1`,
the lightest platform, where every kill waits for a new process). The one-minute load
average is recorded beside every kill: the machine is shared.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from bench.document import now, row
from chaos import RECOVERY_TARGET_S
from chaos import TARGETS as CHAOS_TARGETS
from chaos.faults import Recovery, kill_and_recover
from chaos.load import Ledger, Load
from chaos.platform import api_factory, platform_up

Log = Callable[[str], None]
SETTLE_S = {"tiny": 1.0}  # load between kills, by size; 3 s otherwise
CONFIGURATIONS: dict[str, dict[str, str]] = {
    "default": {},  # what `crm up` runs with no options
    "one_each": {"CRM_GATEWAYS": "1", "CRM_RELAYS": "1", "CRM_WORKERS": "1"},
}
LABELS = {"default": "default", "one_each": "1 process each"}
TARGETS = ("gateway", *CHAOS_TARGETS)  # the gateway too: its socket outlives it


def _measure(
    repeats: int, settle_s: float, configuration: str, targets: tuple[str, ...], log: Log
) -> list[tuple[Recovery, float]]:
    """Each kill's recovery, with the one-minute load average when it was measured."""
    import os
    import time

    ledger = Ledger()
    recoveries: list[tuple[Recovery, float]] = []
    with platform_up(env=CONFIGURATIONS[configuration]) as platform:
        make_api = api_factory(platform)
        load = Load(make_api, ledger, customers=10)
        load.start(1)
        probe = make_api()
        try:
            for repeat in range(repeats):
                for target in targets:
                    time.sleep(settle_s)
                    recovery = kill_and_recover(platform, target, probe, ledger)
                    load_1m = os.getloadavg()[0]
                    log(
                        f"{LABELS[configuration]}, repeat {repeat + 1}: {target} serves "
                        f"again after {recovery.write_visible_s:.1f}s (load {load_1m:.1f})"
                    )
                    recoveries.append((recovery, load_1m))
        finally:
            probe.close()
            load.stop()
    return recoveries


def _figures(
    recoveries: list[tuple[Recovery, float]], configuration: str, targets_killed: tuple[str, ...]
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    results: dict[str, Any] = {}
    summary = []
    targets = {}
    suffix = "" if configuration == "default" else f"_{configuration}"
    label = "" if configuration == "default" else f" ({LABELS[configuration]})"
    for target in targets_killed:
        runs = [(r, load) for r, load in recoveries if r.target == target]
        times = [r.write_visible_s for r, _ in runs]
        healthy = [r.healthy_s for r, _ in runs]
        worst = max(times)
        results[target] = {
            "serving_again_s": {"median": statistics.median(times), "max": worst, "runs": times},
            "healthz_200_s": {"median": statistics.median(healthy), "runs": healthy},
            "load_1m": [round(load, 2) for _, load in runs],
        }
        met = worst <= RECOVERY_TARGET_S
        targets[f"{target}_recovery_s{suffix}"] = {
            "target": RECOVERY_TARGET_S,
            "measured": round(worst, 2),
            "met": met,
        }
        summary.append(
            row(
                f"kill -9 {target}{label}: serving again (max s)",
                worst,
                "s",
                target=f"<= {RECOVERY_TARGET_S:.0f} s",
                met=met,
            )
        )
    return results, summary, targets


def run_recovery(size: str, repeats: int | None, log: Log) -> dict[str, Any]:
    started = now()
    runs = repeats or {"tiny": 1, "quick": 1}.get(size, 3)
    settle_s = SETTLE_S.get(size, 3.0)
    results: dict[str, Any] = {}
    summary: list[dict[str, Any]] = []
    targets: dict[str, Any] = {}
    # tiny (the harness test): the shape only, so one platform and the fault suite's kills
    configurations = ("default",) if size == "tiny" else tuple(CONFIGURATIONS)
    killed = CHAOS_TARGETS if size == "tiny" else TARGETS
    for configuration in configurations:
        recoveries = _measure(runs, settle_s, configuration, killed, log)
        found, rows, met = _figures(recoveries, configuration, killed)
        if configuration == "default":
            results.update(found)
        else:
            results[configuration] = found
        summary.extend(rows)
        targets.update(met)
    return {
        "benchmark": "recovery",
        "size": size,
        "config": {
            "repeats": runs,
            "settle_s": settle_s,
            "targets": list(killed),
            "configurations": {name: CONFIGURATIONS[name] for name in configurations},
        },
        "started_at": started,
        "finished_at": now(),
        "results": results,
        "summary": summary,
        "targets": targets,
    }
