"""--strict (or strict: true in .reconciler.yaml) makes warnings errors: exit 1, nothing written."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from testing.cli import invoke
from testing.process import EXAMPLES


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(EXAMPLES, tmp_path / "jobs")
    (tmp_path / ".git").mkdir()
    fast = tmp_path / "jobs" / "cache-warm.yaml"
    # A job every 3.6 s: valid, but surely meant as 3600000 (1 h); a warning, not an error.
    fast.write_text(fast.read_text().replace("intervals: 15m", "intervals: 3600"))
    assert "intervals: 3600\n" in fast.read_text()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def live_jobs(repo: Path) -> int:
    db = repo / ".reconciler" / "local.db"
    if not db.exists():
        return 0
    with sqlite3.connect(db) as connection:
        return int(connection.execute("select count(*) from jobs").fetchone()[0])


def test_warnings_pass_without_strict(repo: Path) -> None:
    code, _out, err = invoke("validate", "jobs")
    assert code == 0 and "warm_catalogue_cache: intervals: warning:" in err


@pytest.mark.parametrize("command", ["validate", "plan", "drift"])
def test_strict_turns_warnings_into_errors(repo: Path, command: str) -> None:
    code, _out, err = invoke(command, "jobs", "--strict")
    assert code == 1
    line = next(x for x in err.splitlines() if "warm_catalogue_cache: intervals:" in x)
    assert "warning" not in line.split("intervals:")[1][:12] and line.endswith("[strict]")


def test_strict_apply_writes_nothing(repo: Path) -> None:
    code, _out, err = invoke("apply", "jobs", "--auto-approve", "--strict")
    assert code == 1, err
    assert live_jobs(repo) == 0
    code, _out, err = invoke("apply", "jobs", "--auto-approve")
    assert code == 0, err
    assert live_jobs(repo) == 6


def test_strict_from_the_configuration_and_the_flag_over_it(repo: Path) -> None:
    (repo / ".reconciler.yaml").write_text("strict: true\n")
    assert invoke("validate", "jobs")[0] == 1
    assert invoke("validate", "jobs", "--no-strict")[0] == 0
    (repo / ".reconciler.yaml").write_text("strict: yes please\n")
    code, _, err = invoke("validate", "jobs")
    assert code == 1 and err.strip().endswith("strict must be true or false")
