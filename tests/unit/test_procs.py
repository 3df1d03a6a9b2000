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
