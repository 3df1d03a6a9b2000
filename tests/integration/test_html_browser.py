"""report.html in a real headless browser (Debian's chromium): loads offline without
console errors, shows the decision, fits the window from 800 px up (no horizontal
scrolling of the page), and links every failed check from the summary at the top.

Full-page screenshots at 800 and 1,400 px are saved under $MLQA_SCREENSHOTS, by default
mlqa-out/screenshots/ (git-ignored), for a person to look at."""
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlqa.cli import main
from mlqa.gate import ALL_STAGES, decide
from mlqa.judge import bar_chart, line_chart
from mlqa.reports import render
from mlqa.results import CheckResult
from mlqa.suites.data._drift_dist import categorical_chart, numeric_chart
from mlqa.suites.latency import capacity_chart

CHROMIUM = os.environ.get("MLQA_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
         "--disable-background-networking", "--disable-component-update"]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("MLQA_SCREENSHOTS") or ROOT / "mlqa-out" / "screenshots")
WIDTHS = (800, 1400)

# every section of a failed or errored check, and whether the summary links to it
FAILURE_LINKS = """() => {
  const summary = document.querySelector('#summary');
  return [...document.querySelectorAll('section.check.failed, section.check.error')].map(
    s => [s.id, summary.querySelector('a[href="#' + CSS.escape(s.id) + '"]') !== null]);
}"""


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("MLQA_ALLOW_NO_BROWSER") == "1":
            pytest.skip("chromium not installed and MLQA_ALLOW_NO_BROWSER=1")
        pytest.fail(f"chromium not found at {CHROMIUM}: run `make browser` (installs Debian's chromium) "
                    "or set MLQA_CHROMIUM", pytrace=False)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def open_report(browser, path: Path, width: int = 1280):
    page = browser.new_page(viewport={"width": width, "height": 900})
    problems, requests = [], []
    page.on("console", lambda m: problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, problems, requests


def overflow(page) -> int:
    """How far the page is wider than the window (0: no horizontal scrolling)."""
    return page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")


def screenshot(page, tmp_path: Path, name: str) -> Path:
    """A full-page screenshot in the test's tmp_path, copied under SCREENSHOTS."""
    shot = tmp_path / f"{name}.png"
    page.screenshot(path=str(shot), full_page=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, SCREENSHOTS / shot.name)
    return shot


@pytest.mark.parametrize("extra, decision", [("", "PROMOTE"), ("\n- acme.fails: {}", "BLOCK")])
def test_report_shows_the_decision_without_errors(browser, toy_project, tmp_path, extra, decision):
    out = tmp_path / "out"
    main(["gate", str(toy_project("- acme.ok: {}\n- data.drift: {}\n- performance.calibration: {max_ece: 0.2}" + extra)),
          "--stage", "production", "--out", str(out)])
    for width in WIDTHS:
        page, problems, requests = open_report(browser, out / "report.html", width)
        assert page.locator("#decision").inner_text() == f"Decision: {decision}"
        assert problems == []
        assert all(u.startswith(("file://", "data:")) for u in requests), requests
        assert page.locator("#checks > tbody > tr").count() == (4 if extra else 3)
        assert page.locator("svg.chart").count() >= 2
        assert overflow(page) <= 0
        links = page.evaluate(FAILURE_LINKS)
        assert len(links) == (1 if extra else 0) and all(linked for _, linked in links), links
        page.close()


# ------------------------------------------------------------------ a report with everything
LONG_ID = "acme.a_check_with_a_really_long_identifier_that_goes_on[parameter=a-long-value-without-spaces]"


def showcase_doc() -> dict:
    """A production gate over a model and its endpoint with every kind of chart, a drifted
    feature, a table 24 columns wide, an unbreakable 300-character value and a long id."""
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"age": rng.normal(38, 12, 3000).clip(17, 90),
                          "workclass": rng.choice(["Private", "Self-emp", "Gov", "Never-worked"], 3000,
                                                  p=[0.7, 0.12, 0.15, 0.03])})
    test = pd.DataFrame({"age": rng.normal(46, 12, 2000).clip(17, 90),
                         "workclass": rng.choice(["Private", "Self-emp", "Gov", "Never-worked"], 2000,
                                                 p=[0.5, 0.3, 0.17, 0.03])})
    psi = [("age", 0.41), ("workclass", 0.27), ("hours-per-week", 0.03), ("education", 0.01)]
    probes = [{"rate": r, "p50_ms": 4 + r / 60, "p95_ms": 9 + (r / 50) ** 2, "p99_ms": 15 + (r / 38) ** 2}
              for r in (10, 20, 40, 80, 160, 320, 240, 200, 180)]
    roc = [{"name": name, "x": list(np.linspace(0, 1, 40)), "y": list(np.linspace(0, 1, 40) ** k)}
           for name, k in (("loss", 0.8), ("confidence", 0.9), ("shadow", 0.7))]
    roc_chart = line_chart("Membership inference ROC (members vs non-members)", roc,
                           x_label="false-positive rate", y_label="true-positive rate", diagonal=True)
    roc_chart["diagonal_label"] = "chance (AUC 0.5)"
    batch = bar_chart("Latency per batch size (p95, ms)", ["batch 1", "batch 32", "batch 256"], [62.0, 140.0, 912.0],
                      y_label="ms")
    batch["limits"] = [50.0, None, None]
    wide = [{f"column_{i:02d}": (f"value-{r}-{i}" if i % 5 else r * 1234.5678) for i in range(24)} for r in range(8)]
    wide[0]["column_01"] = "x" * 300
    results = [
        CheckResult(id="data.drift", status="failed", message="max_psi = 0.41, above the limit 0.2 — worst: age (psi 0.410)",
                    metrics={"max_psi": 0.41, "drifted_features": 2.0}, thresholds={"max_psi": "<= 0.2"},
                    evidence={"features": [{"feature": f, "psi": v} for f, v in psi], "drifted": ["age", "workclass"],
                              "charts": [bar_chart("PSI by feature (train -> test)", [f for f, _ in psi],
                                                   [v for _, v in psi], threshold=0.2, y_label="PSI"),
                                         numeric_chart("age", train["age"], test["age"], 0.41),
                                         categorical_chart("workclass", train["workclass"], test["workclass"], 0.27)]}),
        CheckResult(id="latency.inference", status="failed", message="p95_ms = 62, above the limit 50",
                    metrics={"p95_ms": 62.0, "rows_per_s": 1730.0}, thresholds={"p95_ms": "<= 50"},
                    evidence={"charts": [batch]}),
        CheckResult(id="latency.capacity", status="failed", message="capacity 180/s, below min_rate 200/s",
                    metrics={"capacity_rps": 180.0}, thresholds={"capacity_rps": ">= 200"},
                    evidence={"probes": probes, "charts": [capacity_chart(probes, ["p95 < 200ms", "p99 < 500ms",
                                                                                    "error_rate < 1%"], 180.0)]}),
        CheckResult(id="latency.load", status="error", message="the load test could not run: locust exited with 1"),
        CheckResult(id=LONG_ID, status="failed", message="y" * 300, metrics={"gap": 0.5}, thresholds={"gap": "<= 0.1"},
                    evidence={"wide": wide}),
        CheckResult(id="privacy.membership_inference", status="passed", message="attack_auc = 0.55 (<= 0.6)",
                    metrics={"attack_auc": 0.55}, thresholds={"attack_auc": "<= 0.6"}, evidence={"charts": [roc_chart]}),
        CheckResult(id="performance.metric[auc]", status="passed", message="roc_auc = 0.93 (>= 0.9)",
                    metrics={"roc_auc": 0.93}, thresholds={"roc_auc": ">= 0.9"}),
        CheckResult(id="security.trivy_image", status="skipped", message="no image configured"),
    ]
    return decide(ALL_STAGES, results).to_dict()


@pytest.fixture(scope="module")
def showcase(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("showcase") / "report.html"
    path.write_text(render(showcase_doc(), "html"), encoding="utf-8")
    return path


@pytest.mark.parametrize("width", WIDTHS)
def test_the_report_fits_the_window_and_links_every_failure(browser, showcase, tmp_path, width):
    page, problems, requests = open_report(browser, showcase, width)
    assert problems == [] and all(u.startswith(("file://", "data:")) for u in requests)
    assert overflow(page) <= 0, f"the page is wider than the {width} px window"
    links = page.evaluate(FAILURE_LINKS)
    assert len(links) == 5 and all(linked for _, linked in links), links
    # failures come before the folded passed checks, which a link opens
    order = page.evaluate("[...document.querySelectorAll('.check')].map(e => e.classList[1])")
    assert order[:5] == ["failed"] * 4 + ["error"] and set(order[5:]) == {"passed", "skipped"}
    assert page.evaluate("document.querySelector('#passed-checks').open") is False
    # every multi-series chart has its legend, the capacity chart its SLO lines
    for svg in page.locator("svg.chart.line, svg.chart.hist, svg.chart.bars").all():
        assert svg.locator("g.legend").count() == 1
    assert page.locator("svg.chart:has(g.legend text:text('SLO p95 < 200ms'))").count() == 1
    # a table wider than the window scrolls inside its own box
    page.locator("details:has(summary:text('wide (8 rows)'))").evaluate("d => d.open = true")
    box = page.locator("details:has(summary:text('wide (8 rows)')) .scroll")
    assert box.evaluate("e => e.scrollWidth > e.clientWidth") and overflow(page) <= 0
    page.locator("details:has(summary:text('wide (8 rows)'))").evaluate("d => d.open = false")
    screenshot(page, tmp_path, f"report-{width}")
    # a passed check is folded; the index's link to it unfolds it
    target = page.locator("#checks a[href='#check-privacy.membership_inference']")
    assert not page.locator("svg[aria-label^='Membership inference ROC']").is_visible()
    target.click()
    assert page.locator("svg[aria-label^='Membership inference ROC']").is_visible()
    page.close()
