"""Behaviour that depends on a real terminal: colours, NO_COLOR, the apply progress bar.

The installed script runs with its stdout on a pseudo-terminal made by the test.
"""

from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from testing.process import SCRIPT, clean_env, read_terminal

EXAMPLES = Path(__file__).parent.parent / "examples" / "jobs"


def on_terminal(args: list[str], cwd: Path, **env: str) -> tuple[int, str]:
    """Run the script with stdin and stdout on a pty; return its exit code and output."""
    base = clean_env(**env)
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [str(SCRIPT), *args],
        cwd=cwd,
        env=base,
        stdin=slave,
        stdout=slave,
        stderr=subprocess.PIPE,
    )
    os.close(slave)
    shown = read_terminal(master, proc, 60)
    code = proc.wait(timeout=10)
    assert proc.stderr is not None
    proc.stderr.close()
    return code, shown.decode()


@pytest.mark.slow
def test_colour_on_a_terminal_and_no_color_respected(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES, tmp_path / "jobs")
    code, out = on_terminal(["plan", "jobs"], tmp_path)
    assert code == 0
    assert "\x1b[32m+\x1b[0m" in out
    code, out = on_terminal(["plan", "jobs"], tmp_path, NO_COLOR="1")
    assert code == 0 and "+ create" in out
    assert "\x1b[" not in out
    code, out = on_terminal(["--no-color", "plan", "jobs"], tmp_path)
    assert "\x1b[" not in out


@pytest.mark.slow
def test_long_apply_shows_a_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    for i in range(25):
        (jobs / f"j{i:02d}.yaml").write_text(
            f"name: Job {i}\ntag: job_{i:02d}\nevent_type: function\nevent_tag: f\n"
            "intervals: 1h\nstart_at: 2026-12-01T00:00:00Z\n"
        )
    code, out = on_terminal(["apply", "jobs", "--auto-approve"], tmp_path, NO_COLOR="1")
    assert code == 0, out
    assert "Applying" in out and "25/25" in out
    assert "job_00: created" not in out  # no line per job under a bar
    assert "Apply: 25 created, 0 updated, 0 failed." in out


@pytest.mark.parametrize(
    ("answer", "code", "said"),
    [
        (b"no", 1, b"apply cancelled; nothing was changed"),
        (b"y", 1, b"apply cancelled; nothing was changed"),
        (b"yes", 0, b"Apply: 6 created, 0 updated, 0 failed."),
    ],
)
@pytest.mark.slow
def test_apply_asks_on_a_terminal_and_takes_only_yes(
    tmp_path: Path, answer: bytes, code: int, said: bytes
) -> None:
    shutil.copytree(EXAMPLES, tmp_path / "jobs")
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [str(SCRIPT), "--no-color", "apply", "jobs"],
        cwd=tmp_path,
        stdin=slave,
        stdout=slave,
        stderr=slave,
    )
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 30
    while b"Only 'yes' is accepted" not in seen:
        assert time.monotonic() < deadline, seen[-300:]
        if select.select([master], [], [], 0.1)[0]:
            seen += os.read(master, 65536)
    os.write(master, answer + b"\n")
    exit_code = proc.wait(timeout=30)
    while select.select([master], [], [], 0.2)[0]:
        try:
            seen += os.read(master, 65536)
        except OSError:
            break
    os.close(master)
    assert exit_code == code and said in seen
    assert (tmp_path / ".reconciler").exists() == (code == 0)
