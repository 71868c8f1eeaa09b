"""Release hygiene: the licence, the distribution's name, the changelog's top entry."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import reconciler
from testing.cli import invoke

ROOT = Path(__file__).resolve().parent.parent


def test_the_changelog_top_entry_is_the_version_reconciler_prints() -> None:
    code, out, _ = invoke("--version")
    assert code == 0
    printed = out.strip().rsplit(" ", 1)[-1]
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    entries = re.findall(r"^## (\S+)", text, flags=re.MULTILINE)
    assert entries, "CHANGELOG.md has no '## VERSION' entry"
    assert entries[0] == printed == reconciler.__version__


def test_pyproject_names_the_same_version_and_a_free_distribution_name() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["version"] == reconciler.__version__
    # "reconciler" on PyPI is an unrelated package: `pip install reconciler` must not be
    # what the README says.
    assert project["name"] == "ductape-reconciler"
    assert project["scripts"] == {"reconciler": "reconciler.__main__:run"}
    assert project["license"] == "MIT"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "pip install reconciler" not in readme
    assert "ductape-reconciler" in readme


def test_the_licence_is_the_mit_text_pyproject_names() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n\nCopyright (c) ")
    assert "reconciler authors" in text.splitlines()[2]
    assert 'THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND' in text
