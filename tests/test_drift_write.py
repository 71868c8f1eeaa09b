"""``drift --write`` through the CLI: live changes accepted into the manifests, in place."""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import pytest

from reconciler.targets.local import LocalTarget
from testing.cli import invoke
from testing.process import EXAMPLES

TARGET = ["--target", "sqlite:///live.db"]


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / ".git").mkdir()
    shutil.copytree(EXAMPLES, tmp_path / "jobs")
    monkeypatch.chdir(tmp_path)
    assert invoke("apply", "jobs", "--auto-approve", *TARGET)[0] == 0
    return tmp_path


def test_drift_write_accepts_two_live_changes_in_their_friendly_forms(repo: Path) -> None:
    before = {p: p.read_text() for p in sorted((repo / "jobs").rglob("*.y*ml"))}
    live = LocalTarget("live.db")
    live.update_job("billing.retry_failed", {"intervals": 9_900_000})  # 2h45m
    live.update_job("nightly_sales_report", {"start_at": 2_127_435_400_000})
    live.close()
    code, out, err = invoke("drift", "jobs", *TARGET, "--write")
    assert code == 2, out + err
    assert "Accepted live changes: 2 fields in 2 files" in err
    assert invoke("drift", "jobs", *TARGET)[0] == 0
    changed = []
    for path, text in before.items():
        diff = [
            line
            for line in difflib.unified_diff(text.splitlines(), path.read_text().splitlines(), n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))
        ]
        changed += diff
    assert changed == [
        "-intervals: 1h30m",
        "+intervals: 2h45m",
        "-start_at: 2037-06-01T02:00:00Z",
        "+start_at: 2037-06-01T02:16:40Z",
    ]


def test_orphans_are_written_only_where_asked(repo: Path) -> None:
    (repo / "jobs" / "cache-warm.yaml").unlink()
    code, _, err = invoke("drift", "jobs", *TARGET, "--write")
    assert code == 2 and not (repo / "adopted").exists()
    code, _, err = invoke("drift", "jobs", *TARGET, "--write", "--orphans-to", "adopted")
    assert "added adopted/" in err
    assert invoke("drift", "jobs", "adopted", *TARGET)[0] == 0
    code, _, err = invoke("drift", "jobs", *TARGET, "--orphans-to", "x")
    assert code == 1 and "add --write" in err
