"""The README, docs/checks.md and `mlqa checks` stay in step with the code."""
from pathlib import Path

import pytest

from mlqa.catalogue import render_catalogue
from mlqa.config import top_keys
from mlqa.registry import Registry

ROOT = Path(__file__).resolve().parents[2]


def test_check_catalogue_is_current():
    expected = render_catalogue(Registry.discover(), "md")
    assert (ROOT / "docs" / "checks.md").read_text() == expected, "run `make docs`"


def test_readme_documents_every_top_level_key_and_both_commands():
    readme = (ROOT / "README.md").read_text()
    for key in top_keys():
        assert f"| `{key}` |" in readme, key
    assert "make demo" in readme and "make test" in readme


def test_every_builtin_check_documents_its_parameters():
    for spec in Registry.discover():
        assert spec.summary, spec.id
        for p in spec.params:
            assert p.doc, f"{spec.id}.{p.name} has no doc"


# ---------------------------------------------------------------- Markdown that renders
def _markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def broken_table_lines(text: str) -> list[int]:
    """1-based numbers of the lines that start with `|` (a table row in the source) but do
    not end up inside a rendered <table> — a table split by a blank line, a row without a
    header, a separator row with the wrong number of cells. Code blocks are left alone."""
    from markdown_it import MarkdownIt
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    inside: set[int] = set()
    for tok in tokens:
        if tok.type in ("table_open", "fence", "code_block", "html_block") and tok.map:
            inside.update(range(tok.map[0], tok.map[1]))
    return [i + 1 for i, line in enumerate(text.splitlines())
            if line.lstrip().startswith("|") and i not in inside]


def test_broken_table_lines_finds_a_table_split_by_a_blank_line():
    good = "| a | b |\n|---|---|\n| 1 | 2 |\n| 3 | 4 |\n"
    assert broken_table_lines(good) == []
    split = "| a | b |\n|---|---|\n| 1 | 2 |\n\n| 3 | 4 |\n"
    assert broken_table_lines(split) == [5]
    assert broken_table_lines("```\n| not | a table |\n```\n") == []


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: p.name)
def test_every_table_renders_whole(path):
    bad = broken_table_lines(path.read_text(encoding="utf-8"))
    assert not bad, f"{path.name}: table rows outside any rendered table at lines {bad} (a blank line " \
                    f"inside a table ends it)"


# ---------------------------------------------------------------- the Python API section
def readme_block(containing: str) -> str:
    """The README's ```python block that contains `containing`."""
    import re
    blocks = [b for b in re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
              if containing in b]
    assert len(blocks) == 1, f"one python block with {containing!r} in README.md, found {len(blocks)}"
    return blocks[0]


def test_python_api_section_documents_the_real_signatures():
    import inspect

    import mlqa
    readme = (ROOT / "README.md").read_text()
    assert "## Python API" in readme
    assert list(inspect.signature(mlqa.run).parameters) == ["config", "only"]
    assert list(inspect.signature(mlqa.gate).parameters) == ["config", "stage", "out"]
    assert list(inspect.signature(mlqa.load_config).parameters)[0] == "path"
    for documented in ("`mlqa.load_config(path) -> mlqa.Config`", "`mlqa.run(config, only=None) -> list[mlqa.CheckResult]`",
                       "`mlqa.gate(config, stage, out=None) -> mlqa.Decision`", "`mlqa.Session(config, stage=None)`"):
        assert documented in readme, documented


def test_python_api_example_runs(toy_project, capsys):
    """The section's first example, on the toy project instead of the credit example
    (seconds, not a minute): it runs as written and prints what it says. (The `mlqa.gate` /
    `Session` example is run by tests/e2e/test_readme.py.)"""
    cfg = toy_project("- data.duplicates: {}\n- acme.fails: {}\n- data.drift: {}")
    code = readme_block("mlqa.load_config(")
    assert "examples/credit/mlqa.yaml" in code
    exec(compile(code.replace("examples/credit/mlqa.yaml", str(cfg)), "README.md (Python API)", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in out] == [["data.duplicates", "passed"], ["data.drift", "passed"]]
