"""Plan files and exported manifests are written whole or not at all.

The fault is real: the CLI runs with a file-size limit (RLIMIT_FSIZE), so the kernel refuses
the write part-way as a full disk would (EFBIG instead of ENOSPC; the same OSError path).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from reconciler import files
from testing.cli import invoke
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


# --- where --out points ------------------------------------------------------------------


@pytest.fixture
def planned(repo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The examples applied to a real SQLite store; the working directory is the repository."""
    monkeypatch.chdir(repo)
    for name in ("NO_COLOR", "RECONCILER_TARGET", "DUCTAPE_PRODUCT", "GITHUB_SHA"):
        monkeypatch.delenv(name, raising=False)
    code, _, err = invoke("apply", "jobs", "--target", STORE, "--auto-approve")
    assert code == 0, err
    return repo


STORE = "sqlite:///live.db"


def test_out_paths_with_dot_and_dot_dot_are_made_as_named(planned: Path) -> None:
    code, _, err = invoke("plan", "jobs", "--target", STORE, "--out", "./q/./r/plan.json")
    assert code == 0, err
    assert json.loads((planned / "q" / "r" / "plan.json").read_text())["format"]
    code, _, err = invoke("snapshot", "--target", STORE, "--out", "nd/../s.json")
    assert code == 0, err
    assert (planned / "s.json").is_file() and not (planned / "nd").exists()
    # A ".." after a missing directory is taken back; deeper and into a new directory too.
    files.write_atomic("a/b/../../c/./d/../e.json", "{}\n", parents=True)
    assert (planned / "c" / "e.json").read_text() == "{}\n"
    assert not (planned / "a").exists() and sorted(p.name for p in (planned / "c").iterdir()) == [
        "e.json"
    ]


def test_a_dot_dot_after_an_existing_link_is_the_systems_to_follow(tmp_path: Path) -> None:
    """``link/..`` is the parent of the link's target, not the directory holding the link."""
    (tmp_path / "real" / "inner").mkdir(parents=True)
    (tmp_path / "here").mkdir()
    (tmp_path / "here" / "link").symlink_to(tmp_path / "real" / "inner")
    files.write_atomic(str(tmp_path / "here" / "link" / ".." / "new" / "f.json"), "1", parents=True)
    assert (tmp_path / "real" / "new" / "f.json").read_text() == "1"
    assert sorted(p.name for p in (tmp_path / "here").iterdir()) == ["link"]


def _in_the_way(kind: str, path: Path) -> None:
    if kind == "link":
        (path.parent / "elsewhere.json").write_text("kept\n")
        path.symlink_to(path.parent / "elsewhere.json")
    elif kind == "dangling link":
        path.symlink_to(path.parent / "nothing-here.json")
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        path.mkdir()
        (path / "inside").write_text("kept\n")


IN_THE_WAY = {
    "link": "a symbolic link",
    "dangling link": "a symbolic link",
    "fifo": "a FIFO",
}


@pytest.mark.parametrize("kind", list(IN_THE_WAY))
@pytest.mark.parametrize(
    ("args", "say"),
    [
        (["plan", "jobs", "--target", STORE, "--out"], "cannot write"),
        (["snapshot", "--target", STORE, "--out"], "cannot write the snapshot"),
    ],
    ids=["plan", "snapshot"],
)
def test_out_replaces_only_a_regular_file(
    planned: Path, kind: str, args: list[str], say: str
) -> None:
    path = planned / "out" / "p.json"
    path.parent.mkdir()
    _in_the_way(kind, path)
    before = sorted((p.name, p.is_symlink()) for p in path.parent.iterdir())
    code, _, err = invoke(*args, "out/p.json")  # plan prints its plan, then says why
    assert code == 1, err
    assert err == (
        f"error: {say} out/p.json: {IN_THE_WAY[kind]} is there, not a regular file; left as it is\n"
    )
    assert sorted((p.name, p.is_symlink()) for p in path.parent.iterdir()) == before
    if kind == "link":
        assert (planned / "out" / "elsewhere.json").read_text() == "kept\n"


def test_write_atomic_replaces_no_directory_and_no_device(tmp_path: Path) -> None:
    """The CLI's --out option refuses a directory before the write is reached; the writer
    refuses one too, and a device node."""
    _in_the_way("directory", tmp_path / "d.json")
    with pytest.raises(files.NotReplaced) as refused:
        files.write_atomic(str(tmp_path / "d.json"), "{}", parents=True)
    assert refused.value.strerror == "a directory is there, not a regular file; left as it is"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.json"]
    assert [p.name for p in (tmp_path / "d.json").iterdir()] == ["inside"]
    # The check alone (it only looks), on the device every machine has: a test that wrote to
    # /dev/null would replace it, run as root, were the check ever gone.
    with pytest.raises(files.NotReplaced) as refused:
        files._check_replaceable("/dev/null")
    assert refused.value.strerror.startswith("a device is there")
    with pytest.raises(IsADirectoryError):
        files.write_atomic(str(tmp_path) + "/", "{}")


def test_export_force_does_not_replace_a_link(planned: Path) -> None:
    (planned / "out").mkdir()
    (planned / "elsewhere.yaml").write_text("kept\n")
    (planned / "out" / "weekly_digest.yaml").symlink_to(planned / "elsewhere.yaml")
    code, _, err = invoke("export", "--target", STORE, "--out", "out", "--force")
    assert code == 1
    assert err == (
        "error: cannot write out/weekly_digest.yaml: a symbolic link is there, not a regular "
        "file; left as it is\n"
    )
    assert (planned / "out" / "weekly_digest.yaml").is_symlink()
    assert (planned / "elsewhere.yaml").read_text() == "kept\n"
