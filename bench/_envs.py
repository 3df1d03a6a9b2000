"""Side environments the benchmarks need, created on first use under bench/.envs/."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ENVS = Path(__file__).resolve().parent / ".envs"
# deepchecks 0.19.1 breaks at import on numpy 2 / scikit-learn >= 1.6: its own pins.
DEEPCHECKS_PINS = ["deepchecks==0.19.1", "numpy<2", "scikit-learn==1.5.2", "pandas<2.3",
                   "category-encoders==2.6.4", "setuptools<81"]


def ensure_env(name: str, requirements: list[str]) -> Path:
    """Path of the env's python, creating the env (and installing) when missing."""
    env = ENVS / name
    python = env / "bin" / "python"
    stamp = env / ".installed"
    if stamp.exists() and stamp.read_text() == "\n".join(requirements):
        return python
    print(f"creating {env} ({', '.join(requirements)}) ...", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(env)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *requirements],
                   check=True)
    stamp.write_text("\n".join(requirements))
    return python
