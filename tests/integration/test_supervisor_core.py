"""The supervisor with small real child processes: order, restarts, backoff, clean stop."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from ops.lock import DataDirBusy, DataDirLock, lock_holder
from ops.supervisor import ChildSpec, StartupError, Supervisor, backoff_delay
from tests.integration.support.waiting import wait_for

pytestmark = pytest.mark.integration

CHILD = textwrap.dedent(
    """
    import os, signal, sys, time
    name, journal = sys.argv[1], sys.argv[2]
    def note(what):
        with open(journal, "a") as f:
            f.write(f"{name} {what} {os.getpid()}\\n")
    def on_term(signum, frame):
        note("stopped")
        sys.exit(0)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    note("started")
    while True:
        time.sleep(0.05)
    """
)


def child(name: str, journal: Path, **options: Any) -> ChildSpec:
    command = [sys.executable, "-c", CHILD, name, str(journal)]
    return ChildSpec(name=name, command=command, **options)


def python(code: str, *args: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code), *args]


def lines(journal: Path) -> list[str]:
    return journal.read_text().split("\n")[:-1] if journal.exists() else []


@pytest.fixture
def supervisors() -> Iterator[list[Supervisor]]:
    """Supervisors made in a test, always stopped at its end."""
    made: list[Supervisor] = []
    yield made
    for supervisor in made:
        supervisor.stop()


def test_backoff_doubles_from_half_a_second_up_to_ten() -> None:
    assert [backoff_delay(n) for n in range(1, 8)] == [0.5, 1, 2, 4, 8, 10, 10]


def test_starts_by_tier_and_stops_in_reverse(tmp_path: Path, supervisors: list[Supervisor]) -> None:
    journal = tmp_path / "journal"
    ready_order: list[str] = []

    def ready_after_start(name: str) -> Callable[[subprocess.Popen[bytes]], None]:
        def check(process: subprocess.Popen[bytes]) -> None:
            wait_for(
                lambda: f"{name} started" in journal.read_text() if journal.exists() else False
            )
            ready_order.append(name)

        return check

    supervisor = Supervisor(
        [
            child("app", journal, tier=2),
            child("db", journal, tier=0, ready=ready_after_start("db")),
            child("broker", journal, tier=1, ready=ready_after_start("broker")),
        ],
        status_path=tmp_path / "run" / "supervisor.json",
    )
    supervisors.append(supervisor)
    supervisor.start()
    wait_for(lambda: len(lines(journal)) == 3)
    assert [line.split()[0] for line in lines(journal)] == ["db", "broker", "app"]
    assert ready_order == ["db", "broker"]
    status = supervisor.status()
    assert {n: c["state"] for n, c in status["components"].items()} == {
        "app": "running",
        "db": "running",
        "broker": "running",
    }
    assert (tmp_path / "run" / "supervisor.json").exists()

    supervisor.stop()
    stops = [line.split()[0] for line in lines(journal) if " stopped " in line]
    assert stops == ["app", "broker", "db"]
    assert all(supervisor.pid(name) is None for name in ("app", "db", "broker"))


def test_a_killed_child_is_restarted_with_a_new_pid(
    tmp_path: Path, supervisors: list[Supervisor]
) -> None:
    journal = tmp_path / "journal"
    supervisor = Supervisor([child("app", journal)], base_delay=0.1)
    supervisors.append(supervisor)
    supervisor.start()
    first = supervisor.pid("app")
    assert first is not None
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: supervisor.pid("app") not in (None, first), tick=supervisor.tick)
    assert supervisor.restarts("app") == 1
    assert supervisor.status()["components"]["app"]["last_exit"] == -signal.SIGKILL


BEATING = """
import sys, time
from pathlib import Path
from ops.heartbeat import Heartbeat
beat = Heartbeat(Path(sys.argv[1]), "beating", interval=0.1)
beat.report("ok")
beat.start()
while True:
    time.sleep(0.05)
"""


def test_a_child_whose_heartbeat_stops_is_killed_and_restarted(
    tmp_path: Path, supervisors: list[Supervisor]
) -> None:
    """Alive but not beating (here: stopped by SIGSTOP) is hung: /healthz calls it down,
    and the supervisor restarts it rather than leave it so for good."""
    spec = ChildSpec(name="beating", command=python(BEATING, str(tmp_path)), heartbeat=True)
    logged: list[str] = []
    supervisor = Supervisor(
        [spec], base_delay=0.1, heartbeat_dir=tmp_path, hung_after=1.0, log=logged.append
    )
    supervisors.append(supervisor)
    supervisor.start()
    first = supervisor.pid("beating")
    assert first is not None
    wait_for(lambda: (tmp_path / "beating.json").exists(), tick=supervisor.tick)
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline:  # beating: left alone however long it runs
        supervisor.tick()
        time.sleep(0.05)
    assert (supervisor.pid("beating"), supervisor.restarts("beating")) == (first, 0)
    os.kill(first, signal.SIGSTOP)
    wait_for(lambda: supervisor.pid("beating") not in (None, first), tick=supervisor.tick)
    assert supervisor.restarts("beating") == 1
    assert any("beating hung: no heartbeat" in line for line in logged)
    assert not psutil.pid_exists(first) or psutil.Process(first).status() == "zombie"


def test_a_crashing_child_backs_off_longer_each_time(
    tmp_path: Path, supervisors: list[Supervisor]
) -> None:
    starts = tmp_path / "starts"
    crash = python(
        """
        import sys, time
        with open(sys.argv[1], "a") as f:
            f.write(f"{time.monotonic()}\\n")
        sys.exit(3)
        """,
        str(starts),
    )
    logged: list[str] = []
    supervisor = Supervisor(
        [ChildSpec("crashy", crash)], base_delay=0.1, max_delay=0.4, log=logged.append
    )
    supervisors.append(supervisor)
    supervisor.start()
    wait_for(lambda: len(lines(starts)) >= 5, timeout=15, tick=supervisor.tick)
    times = [float(t) for t in lines(starts)]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps[0] >= 0.1
    assert gaps[1] >= 0.2
    assert gaps[2] >= 0.4 and gaps[3] >= 0.4
    delays = [line.rsplit("restarting in ", 1)[1] for line in logged if "restarting in" in line]
    assert delays[:4] == ["0.1s", "0.2s", "0.4s", "0.4s"]  # doubling, then capped
    assert any("crashy: exit code 3" in line for line in logged)
    assert supervisor.status()["components"]["crashy"]["last_exit"] == 3


def test_killing_a_child_takes_its_process_group(
    tmp_path: Path, supervisors: list[Supervisor]
) -> None:
    grandchild_pid = tmp_path / "grandchild.pid"
    parent = python(
        """
        import subprocess, sys, time
        helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        open(sys.argv[1], "w").write(str(helper.pid))
        time.sleep(600)
        """,
        str(grandchild_pid),
    )
    supervisor = Supervisor([ChildSpec("parent", parent)], base_delay=0.1)
    supervisors.append(supervisor)
    supervisor.start()
    wait_for(grandchild_pid.exists)
    wait_for(lambda: grandchild_pid.read_text().strip() != "")
    helper = psutil.Process(int(grandchild_pid.read_text()))
    first = supervisor.pid("parent")
    assert first is not None
    os.kill(first, signal.SIGKILL)
    wait_for(
        lambda: not helper.is_running() or helper.status() == psutil.STATUS_ZOMBIE,
        tick=supervisor.tick,
    )


def test_orphans_in_their_own_session_are_reaped(
    tmp_path: Path, supervisors: list[Supervisor]
) -> None:
    """Like PostgreSQL backends: a grandchild that called setsid outlives a killed parent."""
    orphan_pid = tmp_path / "orphan.pid"
    parent = python(
        """
        import subprocess, sys, time
        helper = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True
        )
        open(sys.argv[1], "w").write(str(helper.pid))
        time.sleep(600)
        """,
        str(orphan_pid),
    )
    supervisor = Supervisor([ChildSpec("parent", parent)], base_delay=0.1)
    supervisors.append(supervisor)
    assert supervisor.subreaper, "Linux (3.4+) lets the supervisor adopt orphans"
    supervisor.start()
    wait_for(lambda: orphan_pid.exists() and orphan_pid.read_text().strip() != "")
    orphan = psutil.Process(int(orphan_pid.read_text()))
    first = supervisor.pid("parent")
    assert first is not None
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: not orphan.is_running(), tick=supervisor.tick)
    wait_for(lambda: supervisor.pid("parent") not in (None, first), tick=supervisor.tick)


def test_stop_kills_a_child_that_ignores_sigterm(
    tmp_path: Path, supervisors: list[Supervisor]
) -> None:
    stubborn = python(
        """
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        while True:
            time.sleep(0.05)
        """
    )
    supervisor = Supervisor([ChildSpec("stubborn", stubborn, stop_timeout=0.5)])
    supervisors.append(supervisor)
    supervisor.start()
    pid = supervisor.pid("stubborn")
    assert pid is not None
    time.sleep(0.3)  # let it install the handler
    began = time.monotonic()
    supervisor.stop()
    assert time.monotonic() - began < 5
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_a_server_that_never_gets_ready_fails_startup(
    tmp_path: Path, supervisors: list[Supervisor]
) -> None:
    def never(process: subprocess.Popen[bytes]) -> None:
        raise RuntimeError("not listening on 127.0.0.1:1")

    supervisor = Supervisor([child("db", tmp_path / "journal", ready=never)])
    supervisors.append(supervisor)
    with pytest.raises(StartupError, match="db: not listening"):
        supervisor.start()


def test_a_server_that_exits_while_starting_fails_startup(supervisors: list[Supervisor]) -> None:
    def slow(process: subprocess.Popen[bytes]) -> None:
        process.wait(10)

    supervisor = Supervisor([ChildSpec("db", python("import sys; sys.exit(5)"), ready=slow)])
    supervisors.append(supervisor)
    with pytest.raises(StartupError, match="db: exit code 5 while starting"):
        supervisor.start()


def test_a_oneshot_job_runs_once_and_reports(supervisors: list[Supervisor]) -> None:
    codes: list[int] = []
    supervisor = Supervisor()
    supervisors.append(supervisor)
    supervisor.start()
    supervisor.run_job(
        ChildSpec("seed", python("import sys; sys.exit(0)"), oneshot=True, on_exit=codes.append)
    )
    wait_for(lambda: codes, tick=supervisor.tick)
    assert codes == [0]
    assert supervisor.status()["jobs"]["seed"]["state"] == "done"
    assert supervisor.status()["components"] == {}


def test_the_lock_admits_one_holder_and_dies_with_it(tmp_path: Path) -> None:
    with DataDirLock(tmp_path):
        assert lock_holder(tmp_path) == os.getpid()
        with pytest.raises(DataDirBusy) as caught:
            DataDirLock(tmp_path).acquire()
        assert str(caught.value).startswith("CRM_DATA_DIR: ")
        assert str(os.getpid()) in str(caught.value)
    assert lock_holder(tmp_path) is None
    assert not (tmp_path / "crm.lock").exists()

    holder = subprocess.Popen(
        python(
            """
            import sys, time
            from pathlib import Path
            from ops.lock import DataDirLock
            DataDirLock(Path(sys.argv[1])).acquire()
            print("locked", flush=True)
            time.sleep(600)
            """,
            str(tmp_path),
        ),
        stdout=subprocess.PIPE,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == b"locked"
    assert lock_holder(tmp_path) == holder.pid
    holder.kill()
    holder.wait()
    assert lock_holder(tmp_path) is None  # the kernel dropped it: no stale lock
    with DataDirLock(tmp_path):
        pass


def test_a_child_asking_to_restart_is_started_again_at_once(
    tmp_path: Path, supervisors: list[Supervisor]
) -> None:
    """Exit code 75 (a worker whose broker lost its log): no backoff, not a failure."""
    starts = tmp_path / "starts"
    again = python(
        """
        import sys
        with open(sys.argv[1], "a") as f:
            f.write("started\\n")
        sys.exit(75)
        """,
        str(starts),
    )
    logged: list[str] = []
    supervisor = Supervisor([ChildSpec("worker", again)], base_delay=60.0, log=logged.append)
    supervisors.append(supervisor)
    supervisor.start()
    wait_for(lambda: len(lines(starts)) >= 3, timeout=30, tick=supervisor.tick)
    assert any("asked to restart" in line and "in 0.0s" in line for line in logged)


def test_a_component_waits_for_its_server_instead_of_failing_into_backoff(
    tmp_path: Path, supervisors: list[Supervisor]
) -> None:
    """PostgreSQL is killed and the relay with it: the relay is started once, when the
    server is ready again, not crash-looped into a long backoff while it recovers."""
    journal = tmp_path / "journal"
    ready_file = tmp_path / "ready"  # the pid of the server that is ready
    server = python("import time\nwhile True:\n    time.sleep(0.05)")
    needs_server = python(
        """
        import os, sys, time
        with open(sys.argv[2], "a") as f:
            f.write("component started\\n")
        def server_ready():
            try:
                os.kill(int(open(sys.argv[1]).read()), 0)
                return True
            except (OSError, ValueError):
                return False
        while server_ready():
            time.sleep(0.05)
        sys.exit(1)
        """,
        str(ready_file),
        str(journal),
    )

    def slow_ready(process: subprocess.Popen[bytes]) -> None:
        time.sleep(1.0)  # a server recovering: a component started meanwhile fails at once
        ready_file.write_text(str(process.pid))

    supervisor = Supervisor(
        [
            ChildSpec("server", server, tier=0, ready=slow_ready),
            ChildSpec("component", needs_server, tier=1),
        ],
        base_delay=0.1,
    )
    supervisors.append(supervisor)
    supervisor.start()
    old = supervisor.pid("server")
    assert old is not None
    os.kill(old, signal.SIGKILL)
    wait_for(
        lambda: (
            supervisor.pid("server") not in (None, old)
            and supervisor.state("server") == "running"
            and supervisor.restarts("component") >= 1
            and len(lines(journal)) >= 2
        ),
        timeout=30,
        tick=supervisor.tick,
    )
    assert supervisor.restarts("component") == 1
    assert lines(journal) == ["component started"] * 2
