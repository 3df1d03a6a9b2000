"""`make test`: the whole suite as two pytest lanes side by side.

The chaos experiments and the reference stack's tests spend much of their time waiting on
wall-clock phases (start-up, steady state, fault, recovery) rather than computing, while
the rest of the suite is mostly CPU. Run one after the other they take about 20 minutes on 2 cores; side
by side the waits overlap the computing. Each lane is an ordinary pytest session; the tests
hold under a second CPU-bound workload (issue 12's target), which is what the other lane is.

The second lane's output is kept in a file and printed after the first lane ends, so the log
reads as two whole sessions. The exit status is the first lane's if it failed, else the
second's. Arguments are passed to one plain pytest session instead (no lanes):
    python scripts/test_lanes.py -k rate_limit
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time

#: the lane of the reference stack's tests (wall-clock-bound phases), run beside everything
#: else; with the stack's own tests here the two lanes take about as long as each other
SIDE_LANE = ["tests/integration/test_chaos.py", "tests/integration/test_stack.py",
             "tests/integration/test_stack_faults.py", "tests/integration/test_stack_lifecycle.py"]
PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly"]
#: each lane names its slowest tests, so the next rebalancing has figures
DURATIONS = ["--durations=12"]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()


def main(argv: list[str]) -> int:
    if argv:
        return subprocess.call(PYTEST + argv)
    started = time.monotonic()
    with tempfile.NamedTemporaryFile("w+", prefix="mlqa-lane-", suffix=".log") as log:
        side = subprocess.Popen(PYTEST + DURATIONS + SIDE_LANE, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        main_lane = subprocess.Popen(PYTEST + DURATIONS + ["tests"] + [f"--ignore={p}" for p in SIDE_LANE],
                                     start_new_session=True)
        lanes = (main_lane, side)

        def interrupted(signum, frame):  # noqa: ANN001 - signal handler
            for proc in lanes:
                _stop(proc)
            raise SystemExit(128 + signum)
        signal.signal(signal.SIGINT, interrupted)
        signal.signal(signal.SIGTERM, interrupted)
        main_code = main_lane.wait()
        main_s = time.monotonic() - started
        side_code = side.wait()
        log.seek(0)
        print(f"\n---- lane 2 (side by side with the above): {' '.join(SIDE_LANE)} ----", flush=True)
        sys.stdout.write(log.read())
    print(f"lanes: main {main_s:.0f}s (exit {main_code}), side {time.monotonic() - started:.0f}s "
          f"(exit {side_code})", flush=True)
    return main_code or side_code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
