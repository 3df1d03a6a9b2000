"""The README's examples run as written: its CLI quickstart (line by line, in a fresh
project folder), its pytest command and hand-written test, its extension example (a
team's own check) and the one-line Python uses it shows. The code is read from README.md
itself, so an example that stops working fails here."""
import json
import os
import re
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.slow  # real servers / subprocesses: seconds per test

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def block_containing(lang: str, text: str) -> str:
    found = [b for b in blocks(lang) if text in b]
    assert len(found) == 1, f"README: one ```{lang} block with {text!r}, found {len(found)}"
    return found[0]


def commands(block: str) -> list[str]:
    out = []
    for line in block.splitlines():
        line = re.sub(r"\s+#.*$", "", line).strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A fresh project as the CLI quickstart assumes one: data/train.csv, data/test.csv
    (a sample of the UCI Adult data) and model.skops (a scikit-learn pipeline)."""
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from skops import io as sio
    folder = tmp_path_factory.mktemp("readme-project")
    (folder / "data").mkdir()
    credit = ROOT / "examples" / "credit" / "data"
    cols = ["age", "education-num", "hours-per-week", "capital-gain", "sex", "race", "income"]
    train = pd.read_csv(credit / "train.csv.gz", usecols=cols).sample(3000, random_state=0)
    test = pd.read_csv(credit / "test.csv.gz", usecols=cols).sample(1500, random_state=0)
    train.to_csv(folder / "data" / "train.csv", index=False)
    test.to_csv(folder / "data" / "test.csv", index=False)
    prepare = make_column_transformer(
        (StandardScaler(), ["age", "education-num", "hours-per-week", "capital-gain"]),
        (OneHotEncoder(handle_unknown="ignore"), ["sex", "race"]))
    model = make_pipeline(prepare, LogisticRegression(max_iter=500))
    model.fit(train.drop(columns="income"), train["income"])
    sio.dump(model, folder / "model.skops")
    assert sio.get_untrusted_types(file=folder / "model.skops") == []  # loads as the README shows
    return folder


@pytest.fixture(scope="module")
def configured(project) -> Path:
    """The project after the quickstart's first line (`mlqa init`): its mlqa.yaml."""
    init = commands(block_containing("bash", "mlqa init --data data/train.csv"))[0]
    proc = run(init, project)
    assert proc.returncode == 0, proc.stderr
    return project


def run(cmd: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", cmd], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout)


def test_the_cli_quickstart_runs_line_by_line(project, tmp_path):
    import shutil
    project = Path(shutil.copytree(project, tmp_path / "fresh", ignore=shutil.ignore_patterns("mlqa.yaml", "mlqa-out")))
    lines = commands(block_containing("bash", "mlqa init --data data/train.csv"))
    assert [line.split()[1] for line in lines] == ["init", "checks", "run", "gate", "report"]
    for line in lines:
        formats = re.search(r"--format (\w+(?:\|\w+)+)", line)
        variants = ([line.replace(formats.group(1), f) for f in formats.group(1).split("|")]
                    if formats else [line])
        for cmd in variants:
            proc = run(cmd, project)
            if line.split()[1] == "init":  # a binary string label gets its positive class proposed
                assert 'positive_label: ">50K"' in (project / "mlqa.yaml").read_text()
            allowed = (0, 1) if line.split()[1] in ("run", "gate") else (0,)
            assert proc.returncode in allowed, f"{cmd}\n{proc.stderr}"
    decision = json.loads((project / "mlqa-out" / "decision.json").read_text())
    assert decision["stage"] == "production" and len(decision["checks"]) == 9
    assert all(c["status"] != "error" for c in decision["checks"]), [
        (c["id"], c["message"]) for c in decision["checks"] if c["status"] == "error"]


def test_the_pytest_quickstart_and_the_hand_written_test(configured):
    project = configured
    command = commands(block_containing("bash", "pytest --mlqa-config"))[-1]
    assert command.startswith("pytest ")
    proc = run(f"{BIN}/python -m {command} -p no:cacheprovider", project)
    assert proc.returncode in (0, 1), proc.stdout[-2000:]
    cases = {c.get("name") for c in ET.parse(project / "r.xml").getroot().iter("testcase")}
    assert {"data.schema", "performance.metric"} <= cases
    # the README's hand-written test, run alongside the config's checks
    (project / "tests").mkdir(exist_ok=True)
    (project / "tests" / "test_rules.py").write_text(block_containing("python", "def test_positive_rate_is_plausible"))
    proc = run(f"{BIN}/python -m {command} tests -p no:cacheprovider", project)
    assert proc.returncode in (0, 1), proc.stdout[-2000:]
    decision = json.loads((project / "mlqa-out" / "decision.json").read_text())
    recorded = {c["id"]: c for c in decision["checks"]}["acme.positive_share"]
    assert recorded["status"] == "passed" and 0 < recorded["metrics"]["share"] < 0.4


def test_the_one_line_python_uses(configured):
    project = configured
    drift = re.search(r"`(mlqa\.suites\.data\.drift\(mlqa_context[^`]*)`", README).group(1)
    parity_import = re.search(r"`(from mlqa\.suites\.fairness import demographic_parity)`", README).group(1)
    parity_call = re.search(r"`(demographic_parity\(mlqa_context[^`]*)`", README).group(1)
    (project / "tests").mkdir(exist_ok=True)
    (project / "tests" / "test_inline.py").write_text(
        "import mlqa\nimport mlqa.suites.data\n" + parity_import + "\n\n"
        "def test_inline(mlqa_context, mlqa_record):\n"
        f"    drift = {drift}\n"
        f"    parity = {parity_call}\n"
        "    assert isinstance(drift, mlqa.CheckResult) and drift.id == 'data.drift'\n"
        "    assert parity.id == 'fairness.demographic_parity' and parity.status in ('passed', 'failed')\n"
        # a configured check's id is its own; a direct call is recorded under an instance name
        "    mlqa_record(drift.with_(id='data.drift[strict]'))\n")
    proc = run(f"{BIN}/python -m pytest --mlqa-config mlqa.yaml tests/test_inline.py -p no:cacheprovider "
               "-k test_inline", project)
    assert "1 passed" in proc.stdout, proc.stdout[-2000:]


def test_the_extension_example_is_a_check_like_a_built_in(configured, tmp_path):
    project = configured
    cfg = project / "mlqa.yaml"
    code = block_containing("python", "# acme_checks.py")
    (project / "acme_checks.py").write_text(code)
    text = cfg.read_text().replace("version: 1\n", "version: 1\nplugins: [acme_checks]\n")
    text = text.replace("checks:\n", "checks:\n  - acme.latency_budget: {max_ms: 50}\n")
    own = project / "with_plugin.yaml"
    own.write_text(text)
    proc = run(f"mlqa gate {shlex.quote(own.name)} --stage production --out {tmp_path}", project)
    assert proc.returncode in (0, 1), proc.stderr
    rows = {c["id"]: c for c in json.loads((tmp_path / "decision.json").read_text())["checks"]}
    assert rows["acme.latency_budget"]["status"] == "passed" and "ms per row" in rows["acme.latency_budget"]["message"]
    listed = run("mlqa checks --plugin acme_checks", project)
    assert "acme.latency_budget" in listed.stdout


def test_the_python_api_example(configured):
    project = configured
    code = block_containing("python", "mlqa.Session(")
    (project / "api_example.py").write_text(code)
    proc = run(f"{BIN}/python api_example.py", project)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert lines[0].split()[0] in ("promote", "block")
    ran = lines[1:-1]
    assert len(ran) == 6 and all(re.fullmatch(r"data\.\w+ (passed|failed)", ln) for ln in ran), ran
    assert lines[-1] == "block"
    decision = json.loads((project / "mlqa-out" / "decision.json").read_text())
    assert {c["id"] for c in decision["checks"]} >= {"data.schema", "acme.manual_review"}
    assert any("did not run" in r for r in decision["reasons"])
