"""report.html in a real headless browser (Debian's chromium): loads offline without
console errors and shows the decision."""
import os
import shutil
from pathlib import Path

import pytest

from mlqa.cli import main

CHROMIUM = os.environ.get("MLQA_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
         "--disable-background-networking", "--disable-component-update"]


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


def open_report(browser, path: Path):
    page = browser.new_page()
    problems, requests = [], []
    page.on("console", lambda m: problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, problems, requests


@pytest.mark.parametrize("extra, decision", [("", "PROMOTE"), ("\n- acme.fails: {}", "BLOCK")])
def test_report_shows_the_decision_without_errors(browser, toy_project, tmp_path, extra, decision):
    out = tmp_path / "out"
    main(["gate", str(toy_project("- acme.ok: {}\n- data.drift: {}\n- performance.calibration: {max_ece: 0.2}" + extra)),
          "--stage", "production", "--out", str(out)])
    page, problems, requests = open_report(browser, out / "report.html")
    assert page.locator("#decision").inner_text() == f"Decision: {decision}"
    assert problems == []
    assert all(u.startswith(("file://", "data:")) for u in requests), requests
    assert page.locator("#checks > tbody > tr").count() == (4 if extra else 3)
    assert page.locator("svg.chart").count() >= 2
    page.close()
