"""The README, docs/checks.md and `mlqa checks` stay in step with the code."""
from pathlib import Path

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
