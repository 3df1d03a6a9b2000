"""`mlqa gate` stopped from outside — SIGTERM (a CI job cancelled) or Ctrl-C — asks the
running check to stop; its cleanup (a fault rolled back) runs before mlqa exits."""
import signal
import subprocess
import sys
import time

import pytest

from conftest import add_fault_check

pytestmark = pytest.mark.slow  # real subprocesses: seconds per test

@pytest.mark.parametrize("sig, code, said", [(signal.SIGTERM, 143, "mlqa: terminated"),
                                              (signal.SIGINT, 130, "mlqa: interrupted")])
def test_a_stopped_gate_rolls_back_the_running_check(toy_project, tmp_path, sig, code, said):
    cfg = toy_project("- acme.ok: {}")
    marker = tmp_path / "fault.txt"
    add_fault_check(cfg)
    cfg.write_text(cfg.read_text().replace("  - acme.ok: {}", f"  - acme.holds_a_fault: {{marker: {marker}}}"))
    proc = subprocess.Popen([sys.executable, "-m", "mlqa.cli", "gate", str(cfg), "--stage", "production",
                             "--out", str(tmp_path / "out")], stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(600):  # bounded: up to 60 s for the fault to be injected
            if marker.exists() or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert marker.exists(), "the check never injected its fault"
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == code and said in err
    assert not marker.exists(), "the fault was not rolled back"
