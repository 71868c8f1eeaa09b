"""Plan files and exported manifests are written whole or not at all.

The fault is real: the CLI runs with a file-size limit (RLIMIT_FSIZE), so the kernel refuses
the write part-way as a full disk would (EFBIG instead of ENOSPC; the same OSError path).
"""

from __future__ import annotations

import json
import resource
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from reconciler import files
from testing.process import EXAMPLES, SCRIPT, clean_env
from testing.server import RunningServer


def run_limited(
    args: list[str], cwd: Path, limit: int, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    def limit_file_size() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed process
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run(
        [str(SCRIPT), *args],
        cwd=cwd,
        env=clean_env(**(env or {})),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        preexec_fn=limit_file_size,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLES, tmp_path / "jobs")
    return tmp_path


def test_a_plan_file_that_cannot_be_written_whole_is_not_left_behind(repo: Path) -> None:
    done = run_limited(["plan", "jobs", "--out", "plan.json"], repo, 1500)
    assert done.returncode == 1, done.stderr
    assert "error: cannot write plan.json:" in done.stderr
    assert sorted(p.name for p in repo.iterdir()) == ["jobs"]


def test_a_good_plan_file_survives_a_failed_rewrite(repo: Path) -> None:
    assert run_limited(["plan", "jobs", "--out", "plan.json"], repo, 1 << 30).returncode == 0
    before = (repo / "plan.json").read_text()
    json.loads(before)
    done = run_limited(["plan", "jobs", "--out", "plan.json"], repo, 1500)
    assert done.returncode == 1
    assert (repo / "plan.json").read_text() == before


def test_export_leaves_no_partial_manifest(repo: Path, ductape_server: RunningServer) -> None:
    # Over HTTP, so that the manifests are the only files the run writes.
    env = ductape_server.client_env()
    assert run_limited(["apply", "jobs", "--auto-approve"], repo, 1 << 30, env).returncode == 0
    done = run_limited(["export", "--out", "out"], repo, 64, env)  # a manifest is larger
    assert done.returncode == 1, done.stderr
    assert "error: cannot write to out:" in done.stderr
    assert [p.name for p in (repo / "out").iterdir()] == []


def test_write_atomic_creates_the_missing_directories_only_when_asked(tmp_path: Path) -> None:
    target = tmp_path / "build" / "plans" / "main.json"
    with pytest.raises(FileNotFoundError):
        files.write_atomic(str(target), "{}\n")
    assert not (tmp_path / "build").exists()
    files.write_atomic(str(target), "{}\n", parents=True)
    assert target.read_text() == "{}\n"
    # Into directories that exist already, nothing changes.
    files.write_atomic(str(target), "[]\n", parents=True)
    assert sorted(p.name for p in target.parent.iterdir()) == ["main.json"]


def test_a_failed_write_takes_back_the_directories_it_made(tmp_path: Path) -> None:
    (tmp_path / "kept").mkdir()
    # A lone surrogate cannot be encoded: the write fails after the directories are made.
    with pytest.raises(UnicodeEncodeError):
        files.write_atomic(
            str(tmp_path / "kept" / "new" / "deeper" / "f.json"), "\ud800", parents=True
        )
    assert [p.name for p in tmp_path.iterdir()] == ["kept"]
    assert list((tmp_path / "kept").iterdir()) == []
    # A file where a directory should be: one OSError, nothing made.
    (tmp_path / "kept" / "plain").write_text("x")
    with pytest.raises(NotADirectoryError):
        files.write_atomic(str(tmp_path / "kept" / "plain" / "sub" / "f.json"), "{}", parents=True)
    assert [p.name for p in (tmp_path / "kept").iterdir()] == ["plain"]
