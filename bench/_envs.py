"""The pinned deepchecks environment the benchmark compares against (`make deepchecks-env`)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = ROOT / ".venv-deepchecks"
PINS = ROOT / "requirements" / "deepchecks.txt"


def deepchecks_python() -> Path:
    """The env's python, created (with requirements/deepchecks.txt) when missing."""
    python = ENV / "bin" / "python"
    stamp = ENV / ".installed"
    if not stamp.exists() or stamp.stat().st_mtime < PINS.stat().st_mtime:
        print(f"creating {ENV} from {PINS.name} ...", file=sys.stderr, flush=True)
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(ENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", str(PINS)],
                       check=True)
        stamp.touch()
    return python
