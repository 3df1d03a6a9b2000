"""The malicious-model corpus (tests/model_corpus.py): every malicious file is refused by
`security.model_file` and by `load_model_file` with nothing executed (no marker file), every
benign twin passes the check and loads — and, as a control, the native loaders really do
run the live payloads."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlqa import SubjectError
from mlqa._model_loading import load_model_file
from mlqa.suites.security import model_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from model_corpus import CASES, MARKER, NATIVE_LOADER

IDS = [c.name for c in CASES]


def _ctx(make_ctx, folder: Path):
    ctx = make_ctx(None, None)
    ctx.config = type("C", (), {"dir": folder, "model": None, "baseline": None})()
    return ctx


def test_the_corpus_is_large_and_covers_every_family():
    assert len(CASES) >= 40 and len(set(IDS)) == len(IDS)
    families = {c.family for c in CASES}
    for family in ("GLOBAL", "STACK_GLOBAL", "INST", "memo tricks", "getattr chains",
                   "nested pickles", "compressed joblib", "torch zip", "NDArrayWrapper sidecar",
                   "polyglots", "re-exported classes", "unbounded allocations", "numpy helpers",
                   "importlib", "runpy", "subprocess", "webbrowser", "code", "operator",
                   "functools.partial", "torch.load chains"):
        assert family in families, family


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_malicious_file_is_refused_and_never_runs(case, tmp_path, make_ctx):
    marker = tmp_path / MARKER
    name = case.malicious(tmp_path, marker)
    result = model_file(_ctx(make_ctx, tmp_path), paths=[name])
    assert result.status == "failed", (result.status, result.message)
    assert result.evidence["findings"] or result.evidence["unverifiable"]
    for row in result.evidence["findings"]:
        assert {"global", "opcode", "position", "reason"} <= set(row)
    with pytest.raises(SubjectError):
        load_model_file(tmp_path / name)
    assert not marker.exists()


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_benign_twin_passes_and_loads(case, tmp_path, make_ctx):
    name = case.benign(tmp_path)
    result = model_file(_ctx(make_ctx, tmp_path), paths=[name])
    assert result.status == "passed", (result.message, result.evidence)
    assert load_model_file(tmp_path / name) is not None


def test_the_live_payloads_do_run_under_their_native_loaders(tmp_path):
    """Control: without mlqa, pickle/joblib/torch loading each live file creates its marker
    (in a subprocess, inside tmp_path) — so 'no marker' above means 'refused', not 'inert'."""
    lines = []
    for case in CASES:
        if case.live:
            folder = tmp_path / case.name
            folder.mkdir()
            name = case.malicious(folder, folder / MARKER)
            lines.append(json.dumps([case.name, case.loader, str(folder / name)]))
    proc = subprocess.run([sys.executable, "-c", NATIVE_LOADER], input="\n".join(lines),
                          capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False)
    ran = json.loads(proc.stdout.strip().splitlines()[-1])
    assert [c for c, hit in ran.items() if not hit] == []
    assert len(ran) >= 35
