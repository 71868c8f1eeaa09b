"""Silence that misleads: selections that match nothing, and creates the repository won't own."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from testing.cli import invoke
from testing.process import EXAMPLES


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(EXAMPLES, tmp_path / "jobs")
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_selection_that_matches_nothing_is_a_warning_and_with_strict_an_error(
    repo: Path,
) -> None:
    code, _out, err = invoke("plan", "jobs", "--only", "nighlty_*", "--exclude", "billing.*")
    assert code == 0
    assert "warning: --only 'nighlty_*' matches no job in the manifests or live" in err
    assert "--exclude 'billing.*'" not in err
    code, _, err = invoke("plan", "jobs", "--only", "nighlty_*", "--strict")
    assert code == 1 and "--only 'nighlty_*' matches no job" in err


def test_a_create_outside_owns_is_a_warning(repo: Path) -> None:
    (repo / ".reconciler.yaml").write_text("owns: [nightly_*, weekly_*, billing.*]\n")
    code, _, err = invoke("plan", "jobs")
    assert code == 0
    lines = [line for line in err.splitlines() if "does not own it" in line]
    assert [line.split(": ")[1] for line in lines] == ["archive_old_orders", "warm_catalogue_cache"]
    assert "cache-warm.yaml:3:6: warm_catalogue_cache: tag: warning: the repository creates" in err
