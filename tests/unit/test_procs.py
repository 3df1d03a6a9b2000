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
