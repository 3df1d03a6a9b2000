"""The Why of issue 10, on real data: UCI Adult with synthetic e-mails, SSNs and card numbers,
gated with the `tabular-classifier` preset. Today raw values leak through data.schema's
unseen values, performance.slices' slice names and robustness.missing's fill values into
results.json, report.html and junit.xml; after the redaction pass no output file and no
console line holds one."""
from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import luhn_complete
from mlqa.cli import main

pytestmark = pytest.mark.slow  # the whole preset on 3,000 rows: seconds

MODEL = '''
"""A logistic regression on Adult that, like many production pipelines, refuses missing
values (so robustness.missing fills with each column's most frequent value)."""
import pathlib

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

HERE = pathlib.Path(__file__).parent


class Model:
    def __init__(self):
        train = pd.read_csv(HERE / "train.csv")
        X = train.drop(columns="income")
        self.nums = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c])]
        self.levels = {c: [str(v) for v in X[c].astype(str).value_counts().index[:12]]
                       for c in X.columns if c not in self.nums}
        self.clf = LogisticRegression(max_iter=300).fit(self.encode(X), train["income"].to_numpy(dtype=object))
        self.classes_ = self.clf.classes_

    def encode(self, X):
        if X.isna().to_numpy().any():
            raise ValueError("missing values are not supported")
        parts = [(X[c].astype(float).to_numpy() % 1e6 / 1e5)[:, None] for c in self.nums]
        for c, levels in self.levels.items():
            v = X[c].astype(str).to_numpy()
            parts.append(np.stack([(v == lv).astype(float) for lv in levels], axis=1))
        return np.hstack(parts)

    def predict(self, X):
        return self.clf.predict(self.encode(X))

    def predict_proba(self, X):
        return self.clf.predict_proba(self.encode(X))


def factory():
    return Model()
'''


def with_personal_data(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = len(frame)
    first = rng.choice(["john", "mary", "li", "ana", "omar", "sven", "aiko", "raj"], n)
    frame = frame.assign(
        email=[f"{f}.{rng.integers(10**5, 10**6)}@example{seed}.com" for f in first],
        ssn=[f"{rng.integers(100, 600):03d}-{rng.integers(10, 99):02d}-{rng.integers(1000, 9999):04d}"
             for _ in range(n)],
        card=[luhn_complete("4" + "".join(map(str, rng.integers(0, 10, 14)))) for _ in range(n)])
    frame.loc[: n // 3, "email"] = frame.loc[0, "email"]  # one address recurs: a judged slice
    return frame


@pytest.fixture(scope="module")
def project(tmp_path_factory, adult_train, adult_test) -> tuple[Path, list[str]]:
    folder = tmp_path_factory.mktemp("adult-pii")
    train = with_personal_data(adult_train.dropna().sample(3000, random_state=0).reset_index(drop=True), 1)
    test = with_personal_data(adult_test.dropna().sample(1000, random_state=1).reset_index(drop=True), 2)
    train.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    (folder / "adult_model.py").write_text(MODEL)
    (folder / "mlqa.yaml").write_text(textwrap.dedent("""\
        version: 1
        include: tabular-classifier
        model: {python: "adult_model:factory"}
        data: {train: train.csv, test: test.csv, label: income, positive_label: ">50K", sensitive: [sex]}
        gates:
          production: {blocking: ["*"]}
        """))
    raws = sorted({str(v) for f in (train, test) for c in ("email", "ssn", "card") for v in f[c]})
    return folder, raws


def hits(text: str, raws: list[str]) -> list[str]:
    return [r for r in raws if r in text]


def test_no_output_of_the_gate_holds_a_raw_personal_value(project, capsys):
    folder, raws = project
    out = folder / "out-gate"
    code = main(["gate", str(folder / "mlqa.yaml"), "--stage", "production", "--out", str(out)])
    console = capsys.readouterr()
    assert code == 1  # privacy.pii finds the columns: the gate blocks, as it should
    files = sorted(out.iterdir())
    assert {p.name for p in files} >= {"results.json", "decision.json", "summary.md", "report.html", "junit.xml"}
    for path in files:
        assert hits(path.read_text(encoding="utf-8"), raws) == [], path.name
    assert hits(console.out + console.err, raws) == []
    results = (out / "results.json").read_text()
    # the checks that leaked before still ran and still report (redacted) evidence
    assert '"id": "data.schema"' in results and "<redacted:email>" in results
    assert '"filled_with": "<redacted:email>"' in results
    assert '"value": "<redacted:email>"' in results


def test_redaction_does_not_depend_on_privacy_pii_being_selected(project, capsys):
    folder, raws = project
    out = folder / "out-run"
    code = main(["run", str(folder / "mlqa.yaml"), "--only", "data.schema", "--only", "performance.slices",
                 "--only", "robustness.missing", "--out", str(out)])
    console = capsys.readouterr()
    assert code in (0, 1)
    for path in sorted(out.iterdir()):
        assert hits(path.read_text(encoding="utf-8"), raws) == [], path.name
    assert hits(console.out + console.err, raws) == []


def test_pytest_item_output_is_redacted_too(project):
    """What pytest prints per item, before the run's reports, holds no personal value."""
    import subprocess
    import sys
    folder, raws = project
    out = folder / "out-pytest"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", "-q",
                           "--mlqa-config", str(folder / "mlqa.yaml"), "--mlqa-stage", "production",
                           "--mlqa-out", str(out), "-k", "schema or slices or missing or pii", "-rA"],
                          cwd=folder, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert "<redacted:" in proc.stdout
    assert hits(proc.stdout + proc.stderr, raws) == []
