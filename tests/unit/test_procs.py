"""A subprocess started under a check's deadline never outlives it."""
import subprocess
import sys
import threading

import pytest

from mlqa.deadline import Cancelled, Deadline
from mlqa.procs import pid_alive, run_process


def test_a_subprocess_under_a_cancelled_deadline_is_killed_with_its_children(tmp_path):
    pids = tmp_path / "pids"
    deadline = Deadline(60)
    threading.Timer(0.5, deadline.cancel).start()
    with pytest.raises(Cancelled):
        run_process(["sh", "-c", f"sleep 60 & echo $$ $! > {pids}; wait"], deadline=deadline)
    shell, child = (int(p) for p in pids.read_text().split())
    assert not pid_alive(shell) and not pid_alive(child)


def test_run_process_captures_output_and_its_timeout_kills(tmp_path):
    done = run_process([sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr)"])
    assert done.returncode == 0 and done.stdout.strip() == "out" and done.stderr.strip() == "err"
    with pytest.raises(subprocess.TimeoutExpired):
        run_process(["sleep", "60"], timeout=0.3)


def test_a_subprocess_stays_in_mlqas_process_group(tmp_path):
    """so that killing mlqa's whole group (a CI job cancelled) reaches it too"""
    import os
    pid_file = tmp_path / "pid"
    deadline = Deadline(60)

    def cancel_when_started():
        for _ in range(200):
            if pid_file.exists() and pid_file.read_text().strip():
                break
            threading.Event().wait(0.05)
        box["pgid"] = os.getpgid(int(pid_file.read_text()))
        deadline.cancel()
    box: dict = {}
    threading.Thread(target=cancel_when_started).start()
    with pytest.raises(Cancelled):
        run_process(["sh", "-c", f"echo $$ > {pid_file}; sleep 60"], deadline=deadline)
    assert box["pgid"] == os.getpgid(0)


def test_stop_groups_kills_processes_that_ignore_sigterm():
    from mlqa.procs import stop_groups
    stubborn = [subprocess.Popen([sys.executable, "-c", "import signal, time\n"
                                  "signal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ready', flush=True)\n"
                                  "time.sleep(60)"], start_new_session=True, stdout=subprocess.PIPE)
                for _ in range(3)]
    for p in stubborn:
        assert p.stdout.readline().strip() == b"ready"
    stop_groups(stubborn, grace_s=0.3)
    assert [p.poll() for p in stubborn] == [-9, -9, -9]
    for p in stubborn:
        p.stdout.close()


ECHO = ("from mlqa.procs import die_with_parent\ndie_with_parent()\nimport sys\nprint('ready', flush=True)\n"
        "for line in sys.stdin:\n    print(line.strip(), flush=True)\n")


def _spawn_from_a_thread_that_ends(spawner):
    """Start an echoing, leased child from a short-lived thread; return it once that thread
    is gone from the OS's thread list (its parent-death signal, if any, has fired)."""
    import os

    import psutil
    box = {}

    def start():
        box["native"] = threading.get_native_id()
        cmd = [sys.executable, "-c", ECHO]
        kwargs = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE}
        box["child"] = spawner.popen(cmd, **kwargs) if spawner else subprocess.Popen(
            cmd, env={**os.environ, "MLQA_LEASE_PARENT": str(os.getpid())}, **kwargs)
        assert box["child"].stdout.readline().strip() == b"ready"
    t = threading.Thread(target=start)
    t.start()
    t.join()
    for _ in range(600):
        if box["native"] not in {th.id for th in psutil.Process().threads()}:
            break
        threading.Event().wait(0.05)
    return box["child"]


def _echoes(child) -> bool:
    try:
        child.stdin.write(b"ping\n")
        child.stdin.flush()
        return child.stdout.readline().strip() == b"ping"
    except BrokenPipeError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_a_child_the_spawner_starts_outlives_the_request_thread_that_asked():
    """Linux fires the parent-death signal when the *thread* that started the child ends:
    children a request thread started directly die with the request (the twin); started
    through the Spawner's long-lived thread, they live on."""
    from mlqa.procs import Spawner
    direct = _spawn_from_a_thread_that_ends(None)
    spawned = _spawn_from_a_thread_that_ends(Spawner())
    try:
        assert not _echoes(direct), "the twin: a child of a thread that ended is killed"
        assert _echoes(spawned), "a child the spawner started died with the request thread"
    finally:
        for child in (direct, spawned):
            child.kill()
            child.wait(timeout=10)
            for pipe in (child.stdin, child.stdout):
                try:
                    pipe.close()
                except BrokenPipeError:
                    pass


def test_process_ids_never_signal_a_reused_pid():
    from mlqa.procs import ProcessId, ProcessTable
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        ident = ProcessId.of(p.pid)
        assert ident is not None and ident.alive() and ProcessTable(with_environ=False).identity(p.pid) == ident
        impostor = ProcessId(p.pid, ident.started + 5)   # same pid, another process's start time
        assert not impostor.alive() and impostor.signal(9) is False and p.poll() is None
        assert ident.signal(9) is True
        p.wait(timeout=10)
        assert not ident.alive() and ProcessId.of(p.pid) is None
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=10)
