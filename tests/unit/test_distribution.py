"""mlqa is published as `pytest-mlqa` (the pytest convention; `mlqa` on PyPI is an unrelated
package): every install line the README, docs, examples and CI files show names
pyproject's `[project].name`, and the import name, the CLI and the plugin stay `mlqa`."""
from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
NAME = PYPROJECT["project"]["name"]
#: the files a user copies install lines from
SOURCES = ["README.md", "docs", "examples", ".ci", "Makefile", "bench"]
INSTALL = re.compile(r"\b(?:pip3?|pipx|uv pip|uv tool) install\b([^\n`]*)")
PACKAGE = re.compile(r"""^["']?([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?""")


def files() -> list[Path]:
    out = []
    for name in SOURCES:
        path = ROOT / name
        if path.is_file():
            out.append(path)
        elif path.is_dir():
            out += [p for p in sorted(path.rglob("*")) if p.is_file() and p.suffix not in (".gz", ".skops", ".png")]
    return out


def install_lines() -> list[tuple[str, str]]:
    """(where, the packages after `pip install`) of every install line in the user-facing files."""
    found = []
    for path in files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for lineno, line in enumerate(text.splitlines(), 1):
            for m in INSTALL.finditer(line):
                found.append((f"{path.relative_to(ROOT)}:{lineno}", m.group(1).split(" #")[0]))
    return found


def test_the_distribution_is_pytest_mlqa():
    assert NAME == "pytest-mlqa"
    assert PYPROJECT["project"]["scripts"] == {"mlqa": "mlqa.cli:main"}
    assert PYPROJECT["project"]["entry-points"]["pytest11"] == {"mlqa": "mlqa.pytest_plugin"}
    for extra, reqs in PYPROJECT["project"].get("optional-dependencies", {}).items():
        for req in reqs:  # extras that refer to the package itself use its own name
            assert not re.match(r"mlqa\b", req), f"[{extra}] {req}"


def test_every_install_line_names_the_distribution():
    lines = install_lines()
    ours = []
    for where, args in lines:
        for token in args.split():
            if token.startswith("-"):
                continue
            m = PACKAGE.match(token)
            if m and m.group(1).lower().replace("_", "-") in ("mlqa", NAME):
                ours.append((where, m.group(1)))
    assert any(where.startswith("README.md") for where, _ in ours), "the README shows how to install mlqa"
    wrong = [(where, name) for where, name in ours if name != NAME]
    assert wrong == [], f"install lines must say `pip install {NAME}`"


def test_the_installed_metadata_has_the_new_name():
    try:
        dist = metadata.distribution(NAME)
    except metadata.PackageNotFoundError:
        pytest.fail(f"{NAME} is not installed: run `.venv/bin/python -m pip install -e . --no-deps`")
    eps = {(e.group, e.name): e.value for e in dist.entry_points}
    assert eps[("pytest11", "mlqa")] == "mlqa.pytest_plugin"
    assert eps[("console_scripts", "mlqa")] == "mlqa.cli:main"
    import mlqa
    assert dist.version == mlqa.__version__
