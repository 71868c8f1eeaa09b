"""--max-changes bounds the whole run (every product together) and takes a share too."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from reconciler.errors import TooMuchChange, UsageError
from reconciler.plan import ChangeBudget
from testing.cli import invoke


def manifests(directory: Path, prefix: str, count: int) -> None:
    directory.mkdir(parents=True)
    for i in range(count):
        (directory / f"{prefix}{i:02d}.yaml").write_text(
            f"name: Job {i}\ntag: {prefix}{i:02d}\nevent_type: function\nevent_tag: f\n"
            f"intervals: {i + 1}h\nstart_at: 2027-01-01T00:{i:02d}:00Z\n"
        )


def live_jobs(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as connection:
        return int(connection.execute("select count(*) from jobs").fetchone()[0])


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / ".git").mkdir()
    config = ["products:"]
    for name in ("shop", "billing", "ops"):
        manifests(tmp_path / "jobs" / name, f"{name}_", 20)
        config.append(f"  {name}: {{paths: [jobs/{name}], target: sqlite:///{name}.db}}")
    (tmp_path / ".reconciler.yaml").write_text("\n".join(config) + "\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_three_products_of_twenty_creates_do_not_pass_a_limit_of_twenty_five(repo: Path) -> None:
    code, _, err = invoke("apply", "--auto-approve", "--max-changes", "25")
    assert code == 1
    assert "the plan writes 60 jobs, more than --max-changes 25; nothing was changed" in err
    assert [live_jobs(repo / f"{n}.db") for n in ("shop", "billing", "ops")] == [0, 0, 0]
    code, _, err = invoke("apply", "--auto-approve", "--max-changes", "60")
    assert code == 0, err
    assert [live_jobs(repo / f"{n}.db") for n in ("shop", "billing", "ops")] == [20, 20, 20]


def test_a_share_of_the_repository_s_jobs(repo: Path) -> None:
    code, _, err = invoke("apply", "--auto-approve", "--max-changes", "50%")
    assert code == 1
    assert "more than --max-changes 50% of 60 jobs, 30; nothing was changed" in err
    assert invoke("apply", "--auto-approve", "--max-changes", "100%")[0] == 0
    for i in range(7):  # 7 of 60 jobs change: above 10% (6), within 12% (7)
        path = repo / "jobs" / "shop" / f"shop_{i:02d}.yaml"
        path.write_text(path.read_text().replace("name: Job", "name: Renamed job"))
    code, _, err = invoke("apply", "--auto-approve", "--max-changes", "10%")
    assert code == 1 and "7 jobs, more than --max-changes 10% of 60 jobs, 6" in err
    assert invoke("apply", "--auto-approve", "--max-changes", "12%")[0] == 0


@pytest.mark.parametrize("bad", ["lots", "-1", "150%", "%"])
def test_a_budget_that_is_not_one_is_a_usage_error(bad: str) -> None:
    with pytest.raises(UsageError, match="give a number of jobs"):
        ChangeBudget.parse(bad)


def test_too_much_change_is_a_typed_error() -> None:
    assert issubclass(TooMuchChange, Exception)
    assert ChangeBudget.parse("10%").allowed(60) == 6
    assert ChangeBudget.parse("7").allowed(60) == 7
