"""schedule --window is at most 366 days: a timeline a person reads, a year's runs of a
yearly job; ``--window 10000w`` took about a minute before this bound. One line, exit 1."""

from __future__ import annotations

from pathlib import Path

from reconciler.commands.schedule import MAX_WINDOW_DAYS
from testing.cli import invoke as run


def test_a_year_is_the_longest_window(examples_repo: Path) -> None:
    assert MAX_WINDOW_DAYS == 366
    code, out, err = run("schedule", "jobs", "--window", "52w2d")  # 366 days, the longest
    assert code == 0, err
    for window in ("367d", "10000w", "8785h", "31622400001ms"):
        code, out, err = run("schedule", "jobs", "--window", window)
        assert code == 1, window
        assert err == f"error: --window {window}: longer than the 366d a timeline may cover\n"
        assert out == ""
