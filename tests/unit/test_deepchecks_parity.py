"""The deepchecks parity table (docs/checks.md) covers every check of deepchecks' three
default tabular suites — read from deepchecks itself, in its pinned environment — and
names only checks mlqa really has."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from mlqa._deepchecks_parity import PARITY
from mlqa.catalogue import render_catalogue
from mlqa.registry import Registry

ROOT = Path(__file__).resolve().parents[2]
DC_PYTHON = ROOT / ".venv-deepchecks" / "bin" / "python"
SUITES = ("data_integrity", "train_test_validation", "model_evaluation")
_LIST = ("import json, warnings; warnings.filterwarnings('ignore')\n"
         "from deepchecks.tabular import suites\n"
         f"print(json.dumps({{n: [c.name() for c in getattr(suites, n)().checks.values()] for n in {SUITES!r}}}))\n")


@pytest.fixture(scope="module")
def deepchecks_suites() -> dict[str, list[str]]:
    """suite -> check names, from deepchecks' real default suites."""
    if not DC_PYTHON.exists():
        pytest.fail(f"{DC_PYTHON} is missing: run `make deepchecks-env` (deepchecks 0.19.1 runs in its own "
                    "pinned environment)")
    out = subprocess.run([str(DC_PYTHON), "-c", _LIST], capture_output=True, text=True, timeout=300, check=False,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert out.returncode == 0, f"listing deepchecks' suites failed:\n{out.stderr[-2000:]}"
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_every_default_deepchecks_check_has_a_row(deepchecks_suites):
    assert set(deepchecks_suites) == set(SUITES)
    rows = {(r.suite, r.check) for r in PARITY}
    expected = {(suite, name) for suite, names in deepchecks_suites.items() for name in names}
    assert expected - rows == set(), "deepchecks checks without a row in mlqa/_deepchecks_parity.py"
    assert rows - expected == set(), "rows for checks deepchecks' default suites do not have"
    assert len(PARITY) == len(rows), "a deepchecks check has two rows"


def test_rows_follow_deepchecks_order(deepchecks_suites):
    order = [(suite, name) for suite in SUITES for name in deepchecks_suites[suite]]
    assert [(r.suite, r.check) for r in PARITY] == order


def test_every_mlqa_id_in_the_table_is_a_registered_check():
    known = set(Registry.discover().checks)
    missing = sorted({cid for r in PARITY for cid in r.mlqa} - known)
    assert not missing, f"the parity table names checks that are not registered: {missing}"


def test_a_row_without_full_coverage_says_why():
    for r in PARITY:
        if not r.mlqa or r.coverage != "same":
            assert len(r.note.split()) >= 8, f"{r.check}: say why mlqa has no (or only partial) check"
        if r.coverage == "same":
            assert r.mlqa, f"{r.check}: `same` coverage names the mlqa check"


def test_the_catalogue_renders_the_table():
    md = render_catalogue(Registry(), "md")
    assert "## Parity with deepchecks" in md
    for r in PARITY:
        line = next(line for line in md.splitlines() if line.startswith(f"| {r.suite} | {r.check} |"))
        assert all(f"`{cid}`" in line for cid in r.mlqa) and r.coverage in line
    assert "Parity" not in render_catalogue(Registry(), "text")
