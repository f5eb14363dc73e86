"""A small process supervisor: start children in order, restart the dead, stop cleanly.

Why it is shaped like this:

- Each child runs in its own session (`start_new_session`), so one `killpg` takes the
  child and everything it forked into its group, and the terminal's Ctrl-C reaches
  only the supervisor, which then stops the children in the right order.
- Some programs put their own children into new sessions (every PostgreSQL backend
  calls `setsid`). The supervisor makes itself a *child subreaper*, so when such a
  parent dies the orphans become the supervisor's children; it kills and reaps them
  before a restart (orphaned PostgreSQL backends would otherwise keep the old shared
  memory attached and block the new server) and at the end (nothing is left behind).
- A child that exits is restarted after an exponential backoff (`base_delay`: 0.5 s,
  1 s, 2 s, ... capped at 10 s; `crm up` starts it at 0.25 s); a child that ran for a
  while (`stable_after`) before dying starts again at once: a kill -9 or an OOM kill
  is not a crash loop, and the restart delay is part of the recovery time.
  A child that exits with `RESTART_NOW` (75, EX_TEMPFAIL: "start me again", e.g. a
  worker whose broker lost its log) is started again at once, not counted as a failure.
- Components depend on the servers below them: while a lower tier is down, a dead
  component waits for it instead of failing again and again into a long backoff (a
  `kill -9` of PostgreSQL used to leave the relay in a 4 s backoff after PostgreSQL was
  long back); once the lower tier is ready again, waiting components start at once.
- Children start in tiers (servers first); readiness checks run in threads, so the
  loop keeps watching everything else meanwhile. Stopping goes tier by tier in
  reverse: the child's stop signal to its group, SIGKILL after its timeout.
- A child that stays alive but stops its heartbeat (`heartbeat_dir`) for `HUNG_AFTER`
  seconds is hung: it is killed and restarted like a dead one.
- `status()` (and the file at `status_path`, rewritten every second) says what runs,
  with pids, states and restart counts, for `/healthz` and `crm status`; each entry names
  its `component`, so replicas (`replicas(spec, n)`: `name`, `name-2`, ...) are judged
  together (a component is up while one of its replicas is).

Not thread-safe: call `start`, `tick` and `stop` from one thread (the main one). Every
child process of the supervisor's process that appears after the supervisor was created
and that it did not start counts as an adopted orphan; run other subprocesses through
`run_job`, not beside the supervisor.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from ops.heartbeat import read_beat, write_json_atomic
from ops.logfiles import KEEP, MAX_BYTES, open_log, rotate_if_large

PR_SET_CHILD_SUBREAPER = 36
RESTART_NOW = 75  # exit code of a child that asks to be started again at once
HUNG_AFTER = 60.0
"""Seconds without a heartbeat before a running child counts as hung and is restarted."""

Log = Callable[[str], None]
ReadyCheck = Callable[["subprocess.Popen[bytes]"], None]


class StartupError(RuntimeError):
    """A child failed while the supervisor was bringing everything up."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


@dataclass(frozen=True)
class ChildSpec:
    """How to run one child. `ready` blocks until the child serves, raising if it can't."""

    name: str
    command: Sequence[str]
    env: Mapping[str, str] | None = None
    cwd: Path | None = None
    user: str | None = None
    log_path: Path | None = None
    tier: int = 0
    stop_signal: int = signal.SIGTERM
    stop_timeout: float = 10.0
    ready: ReadyCheck | None = None
    before_start: Callable[[], None] | None = None
    heartbeat: bool = False
    oneshot: bool = False  # run once (a job): never restarted, not a component
    on_exit: Callable[[int], None] | None = None  # oneshot only: called with the exit code
    component: str | None = None  # what it is a replica of (`replicas`); its name if None
    pass_fds: tuple[int, ...] = ()  # descriptors the child inherits (the gateways' socket)

    @property
    def group(self) -> str:
        return self.component or self.name


def replica_name(name: str, index: int) -> str:
    """`gateway`, `gateway-2`, `gateway-3`, ...: the first keeps the plain name."""
    return name if index == 1 else f"{name}-{index}"


def replicas(spec: ChildSpec, count: int) -> list[ChildSpec]:
    """`count` copies of `spec`, each its own child (own pid, log, heartbeat and restarts),
    all of one component. Each copy's environment names it in `CRM_PROCESS_NAME`, so the
    process reports under that name. Any component may be replicated this way (gateways,
    workers, relays): what a replica must share or elect is the component's business."""
    copies = []
    for index in range(1, count + 1):
        name = replica_name(spec.name, index)
        env = {**(spec.env or os.environ), "CRM_PROCESS_NAME": name}
        log_path = spec.log_path.with_name(f"{name}.log") if spec.log_path else None
        copies.append(
            dataclasses.replace(spec, name=name, component=spec.group, env=env, log_path=log_path)
        )
    return copies


def backoff_delay(failures: int, base: float = 0.5, cap: float = 10.0) -> float:
    """Seconds to wait before restart number `failures` in a row: 0.5, 1, 2, 4, 8, 10, 10 ..."""
    return float(min(cap, base * 2 ** max(0, failures - 1)))


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def become_subreaper() -> bool:
    """Adopt orphaned grandchildren (Linux); False where the kernel has no such thing."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def stop_being_subreaper() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


@dataclass
class _Child:
    spec: ChildSpec
    process: subprocess.Popen[bytes] | None = None
    state: str = "stopped"  # starting | running | backoff | stopping | stopped | done | failed
    restarts: int = 0
    failures: int = 0
    started_at: float = 0.0
    next_start: float = 0.0
    last_exit: int | None = None  # of the previous run, kept across the restart
    detail: str = ""
    ready: Future[None] | None = field(default=None, repr=False)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


class Supervisor:
    def __init__(
        self,
        specs: Sequence[ChildSpec] = (),
        *,
        status_path: Path | None = None,
        log: Log | None = None,
        base_delay: float = 0.5,
        max_delay: float = 10.0,
        stable_after: float = 10.0,
        log_max_bytes: int = MAX_BYTES,
        log_keep: int = KEEP,
        log_check_every: float = 5.0,
        heartbeat_dir: Path | None = None,
        hung_after: float = HUNG_AFTER,
    ) -> None:
        self._children: dict[str, _Child] = {}
        self.heartbeat_dir = heartbeat_dir
        """Where children with `heartbeat` write theirs (`ops.heartbeat`), named as they are."""
        self.hung_after = hung_after
        self._last_hung_check = 0.0
        self.status_path = status_path
        self.log: Log = log or (lambda message: None)
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.stable_after = stable_after
        self.log_max_bytes = log_max_bytes
        self.log_keep = log_keep
        self.log_check_every = log_check_every
        self._last_log_check = 0.0
        self.phase = "starting"
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ready-check")
        self._last_status_write = 0.0
        self._dirty = True
        self._created = time.time()
        self._foreign = {proc.pid for proc in psutil.Process().children()}
        self.subreaper = become_subreaper()
        for spec in specs:
            self.add(spec)

    # -- queries -------------------------------------------------------------

    def add(self, spec: ChildSpec) -> None:
        if spec.name in self._children:
            raise ValueError(f"duplicate child name {spec.name!r}")
        self._children[spec.name] = _Child(spec)

    def pid(self, name: str) -> int | None:
        child = self._children[name]
        return child.process.pid if child.alive and child.process else None

    def state(self, name: str) -> str:
        return self._children[name].state

    def restarts(self, name: str) -> int:
        return self._children[name].restarts

    def status(self) -> dict[str, Any]:
        components: dict[str, Any] = {}
        jobs: dict[str, Any] = {}
        for name, child in self._children.items():
            entry = {
                "pid": child.process.pid if child.process else None,
                "state": child.state,
                "restarts": child.restarts,
                "last_exit": child.last_exit,
                "detail": child.detail,
                "heartbeat": child.spec.heartbeat,
                "component": child.spec.group,
                "command": " ".join(child.spec.command),
            }
            (jobs if child.spec.oneshot else components)[name] = entry
        return {
            "pid": os.getpid(),
            "ts": time.time(),
            "state": self.phase,
            "components": components,
            "jobs": jobs,
        }

    # -- lifecycle -----------------------------------------------------------

    def start(self, should_stop: Callable[[], bool] = lambda: False) -> None:
        """Start every tier and wait for its readiness checks; StartupError if one fails."""
        services = [c for c in self._children.values() if not c.spec.oneshot]
        for tier in sorted({c.spec.tier for c in services}):
            members = [c for c in services if c.spec.tier == tier]
            for child in members:
                self._launch(child, startup=True)
            while any(c.state == "starting" for c in members):
                if should_stop():
                    return
                self._poll(startup=True)
                self._write_status()
                time.sleep(0.05)
        self.phase = "running"
        self._dirty = True
        self._write_status()

    def run_job(self, spec: ChildSpec) -> None:
        """Start a one-shot child now; `tick` reports its end through `spec.on_exit`."""
        if not spec.oneshot:
            raise ValueError("run_job takes oneshot specs")
        self.add(spec)
        self._launch(self._children[spec.name], startup=False)

    def tick(self) -> None:
        """Notice exits and readiness, restart what is due, refresh the status file,
        and rotate the children's logs that grew too big (every `log_check_every` s)."""
        self._poll(startup=False)
        self._kill_hung()
        self._write_status()
        self._rotate_logs()

    def stop(self, force: Callable[[], bool] = lambda: False) -> None:
        """Stop everything, last tier first; `force()` turning true skips the waiting."""
        self.phase = "stopping"
        self._dirty = True
        self._write_status()
        for child in self._children.values():
            if child.state == "backoff":
                child.state = "stopped"
        jobs = [c for c in self._children.values() if c.spec.oneshot]
        self._stop_group(jobs, force)
        services = [c for c in self._children.values() if not c.spec.oneshot]
        for tier in sorted({c.spec.tier for c in services}, reverse=True):
            self._stop_group([c for c in services if c.spec.tier == tier], force)
        self._reap_orphans()
        self._executor.shutdown(wait=False, cancel_futures=True)
        if self.subreaper:
            stop_being_subreaper()
            self.subreaper = False
        self.phase = "stopped"
        self._dirty = True
        self._write_status()

    # -- internals -----------------------------------------------------------

    def _rotate_logs(self) -> None:
        now = time.monotonic()
        if now - self._last_log_check < self.log_check_every:
            return
        self._last_log_check = now
        paths = {c.spec.log_path for c in self._children.values() if c.spec.log_path}
        for path in paths:
            try:
                if rotate_if_large(path, self.log_max_bytes, self.log_keep):
                    self.log(f"rotated {path.name}")
            except OSError as error:  # a full disk must not stop the supervision
                self.log(f"could not rotate {path.name}: {error}")

    def _launch(self, child: _Child, *, startup: bool) -> None:
        spec = child.spec
        try:
            if spec.before_start is not None:
                spec.before_start()
            log = open_log(spec.log_path) if spec.log_path else None
            try:
                child.process = subprocess.Popen(
                    list(spec.command),
                    env=dict(spec.env) if spec.env is not None else None,
                    cwd=spec.cwd,
                    user=spec.user,
                    stdin=subprocess.DEVNULL,
                    stdout=log or subprocess.DEVNULL,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    pass_fds=spec.pass_fds,
                )
            finally:
                if log is not None:
                    log.close()
        except Exception as error:
            if startup:
                raise StartupError(spec.name, f"could not start: {error}") from error
            self._schedule_restart(child, f"could not start: {error}")
            return
        child.started_at = time.monotonic()
        self._dirty = True
        if spec.ready is not None:
            child.state = "starting"
            child.detail = "waiting until ready"
            child.ready = self._executor.submit(spec.ready, child.process)
        else:
            child.state = "running"
            child.detail = ""

    def _poll(self, *, startup: bool) -> None:
        now = time.monotonic()
        for child in list(self._children.values()):
            if child.state in ("starting", "running") and child.process is not None:
                code = child.process.poll()
                if code is not None:
                    self._on_exit(child, code, startup=startup)
                elif child.state == "starting" and child.ready is not None and child.ready.done():
                    self._on_ready(child, startup=startup)
            elif child.state == "backoff" and now >= child.next_start:
                waiting_for = self._down_below(child)
                if waiting_for:
                    child.detail = f"waiting for {waiting_for} to be ready"
                    continue
                child.restarts += 1
                self.log(f"restarting {child.spec.name} (restart {child.restarts})")
                self._launch(child, startup=False)

    def _kill_hung(self) -> None:
        """A running child whose heartbeat stopped for `hung_after` seconds (stopped by a
        signal, deadlocked, stuck in native code holding the GIL) is killed and restarted
        like a dead one: `/healthz` already calls it down, and it would never come back
        by itself. Its heartbeat thread writes every 2 s, so a minute is no busy spell."""
        now = time.monotonic()
        if self.heartbeat_dir is None or now - self._last_hung_check < 1.0:
            return
        self._last_hung_check = now
        for child in self._children.values():
            process = child.process
            if not child.spec.heartbeat or child.state != "running" or process is None:
                continue
            beat = read_beat(self.heartbeat_dir / f"{child.spec.name}.json")
            if beat is None or beat.get("pid") != process.pid:
                continue  # a new process, not beating yet
            age = time.time() - float(beat.get("ts", time.time()))
            if age > self.hung_after:
                self.log(f"{child.spec.name} hung: no heartbeat for {age:.0f}s; killing it")
                self._kill_group(child)
                self._on_exit(child, process.wait(), startup=False)

    def _down_below(self, child: _Child) -> str | None:
        """The name of a server in a lower tier that is not running, if any."""
        for other in self._children.values():
            lower = other.spec.tier < child.spec.tier and not other.spec.oneshot
            if lower and other.state != "running":
                return other.spec.name
        return None

    def _wake_dependents(self, server: _Child) -> None:
        """A lower tier is back: what waited for it starts now, its backoff forgotten."""
        for child in self._children.values():
            if child.spec.tier > server.spec.tier and child.state == "backoff":
                child.failures = 0
                child.next_start = time.monotonic()

    def _on_ready(self, child: _Child, *, startup: bool) -> None:
        assert child.ready is not None and child.process is not None
        error = child.ready.exception()
        if error is None:
            child.state = "running"
            child.detail = ""
            self._dirty = True
            took = time.monotonic() - child.started_at
            self.log(f"{child.spec.name} ready (pid {child.process.pid}, {took:.1f}s)")
            self._wake_dependents(child)
            return
        if startup:
            self._kill_group(child)
            raise StartupError(child.spec.name, str(error))
        self.log(f"{child.spec.name} did not become ready: {error}")
        self._kill_group(child)
        child.process.wait()
        self._on_exit(child, child.process.returncode, startup=False)

    def _on_exit(self, child: _Child, code: int, *, startup: bool) -> None:
        spec = child.spec
        child.last_exit = code
        self._kill_group(child)
        self._reap_orphans()
        self._dirty = True
        if spec.oneshot:
            child.state = "done" if code == 0 else "failed"
            child.detail = describe_exit(code)
            if spec.on_exit is not None:
                spec.on_exit(code)
            return
        if startup and spec.ready is not None:
            raise StartupError(spec.name, f"{describe_exit(code)} while starting")
        ran = time.monotonic() - child.started_at
        if code == RESTART_NOW:
            child.failures = 0
            self._schedule_restart(child, f"asked to restart after {ran:.1f}s", delay=0.0)
            return
        if ran >= self.stable_after:
            # It ran well, then died (a kill -9, an OOM): not a crash loop, so no backoff;
            # every tenth of a second here is a tenth of the recovery time.
            child.failures = 0
            self._schedule_restart(child, f"{describe_exit(code)} after {ran:.1f}s", delay=0.0)
            return
        blameless = self._down_below(child) is not None
        child.failures = 1 if blameless else child.failures + 1
        self._schedule_restart(child, f"{describe_exit(code)} after {ran:.1f}s")

    def _schedule_restart(self, child: _Child, reason: str, delay: float | None = None) -> None:
        if child.state == "backoff":
            child.failures += 1
        if delay is None:
            delay = backoff_delay(max(1, child.failures), self.base_delay, self.max_delay)
        child.state = "backoff"
        child.next_start = time.monotonic() + delay
        child.detail = f"{reason}; restarting in {delay:.1f}s"
        self._dirty = True
        self.log(f"{child.spec.name}: {child.detail}")

    def _kill_group(self, child: _Child, sig: int = signal.SIGKILL) -> None:
        if child.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.process.pid, sig)

    def _stop_group(self, members: list[_Child], force: Callable[[], bool]) -> None:
        alive = [c for c in members if c.alive]
        for child in alive:
            child.state = "stopping"
            self._kill_group(child, child.spec.stop_signal)
        deadline = time.monotonic() + max((c.spec.stop_timeout for c in alive), default=0)
        while any(c.alive for c in alive) and time.monotonic() < deadline and not force():
            time.sleep(0.05)
        for child in alive:
            if child.alive:
                self.log(f"{child.spec.name} did not stop in time; killing it")
            self._kill_group(child)  # also takes anything left in its group
            assert child.process is not None
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.process.wait(timeout=5)
        for child in members:
            if child.state in ("stopping", "starting", "running", "backoff"):
                child.state = "stopped"
        self._dirty = True

    def _reap_orphans(self) -> None:
        """Kill and reap adopted grandchildren that no tracked child accounts for."""
        tracked = {c.process.pid for c in self._children.values() if c.alive and c.process}
        try:
            adopted = psutil.Process().children()
        except psutil.Error:
            return
        for proc in adopted:
            if proc.pid in tracked or proc.pid in self._foreign:
                continue
            try:
                if proc.create_time() < self._created - 1.0:
                    continue  # older than us: someone else's child, not an orphan of ours
                proc.kill()
            except psutil.Error:
                pass
            with contextlib.suppress(ChildProcessError):
                os.waitpid(proc.pid, 0)

    def _write_status(self) -> None:
        if self.status_path is None:
            return
        now = time.monotonic()
        if not self._dirty and now - self._last_status_write < 1.0:
            return
        write_json_atomic(self.status_path, self.status())
        self._last_status_write = now
        self._dirty = False
