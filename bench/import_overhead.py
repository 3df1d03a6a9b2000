"""Plugin overhead on `pytest --collect-only` of a project that does not use mlqa.

    python bench/import_overhead.py [--runs 15]

Runs the same collection with mlqa's plugin loaded and with `-p no:mlqa`, alternating,
and prints medians and the difference (target: at most 0.3 s). Prints; asserts nothing.
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_project(root: Path, files: int = 40) -> None:
    for i in range(files):
        (root / f"test_mod{i}.py").write_text(
            "import pytest\n\n"
            + "".join(f"def test_{j}():\n    assert {j} == {j}\n\n" for j in range(10))
            + "@pytest.mark.parametrize('x', range(5))\ndef test_param(x):\n    assert x >= 0\n")


def collect(root: Path, extra: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *extra],
                   cwd=root, check=True, capture_output=True)
    return time.perf_counter() - t


def main() -> None:
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 15
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_project(root)
        collect(root, [])  # warm the file cache and bytecode
        with_plugin, without = [], []
        for _ in range(runs):
            with_plugin.append(collect(root, []))
            without.append(collect(root, ["-p", "no:mlqa"]))
    a, b = statistics.median(with_plugin), statistics.median(without)
    print(f"pytest --collect-only, 40 files / 600 tests, {runs} runs each (medians):")
    print(f"  with mlqa plugin    {a:.3f} s")
    print(f"  with -p no:mlqa     {b:.3f} s")
    print(f"  plugin overhead     {a - b:+.3f} s (target <= 0.300 s)")


if __name__ == "__main__":
    main()
