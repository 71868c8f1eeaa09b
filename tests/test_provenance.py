"""The commit a report's header names: from GITHUB_SHA, or read from a real repository's files.

Repositories are made by the real git (a loose ref, packed refs, a detached head, a worktree);
what ``reconciler.provenance`` reads must match ``git rev-parse HEAD``. Hostile ``.git``
contents (a pull request can hold any file) give no commit, never an error or a hang.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from reconciler import provenance
from reconciler.provenance import (
    EVENT_LIMIT,
    PACKED_REFS_LIMIT,
    SMALL_FILE,
    commit,
    is_dirty,
    object_name,
)
from testing.cli import invoke as run

A = "a" * 40


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
        env={**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"},
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "a.txt").write_text("a\n")
    git(root, "add", "a.txt")
    git(root, "commit", "-q", "-m", "one")
    return root


def test_github_sha_comes_first_and_must_be_an_object_name(repo: Path) -> None:
    assert commit({"GITHUB_SHA": A}, str(repo)) == A
    assert commit({"GITHUB_SHA": "B" * 64}, None) == "b" * 64  # SHA-256 repositories
    head = git(repo, "rev-parse", "HEAD")
    for bad in ("", "main", "a" * 39, "a" * 41, A + "\n::error::x", "g" * 40):
        assert commit({"GITHUB_SHA": bad}, str(repo)) == head, bad
    assert commit({}, None) is None


def test_the_repository_files_give_what_git_says(repo: Path, tmp_path: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    assert commit({}, str(repo)) == head  # a loose ref
    git(repo, "pack-refs", "--all")
    assert not (repo / ".git" / "refs" / "heads" / "main").exists()
    assert commit({}, str(repo)) == head  # packed-refs
    (repo / "b.txt").write_text("b\n")
    git(repo, "add", "b.txt")
    git(repo, "commit", "-q", "-m", "two")
    second = git(repo, "rev-parse", "HEAD")
    assert second != head and commit({}, str(repo)) == second  # a loose ref over a packed one
    git(repo, "checkout", "-q", "--detach", head)
    assert commit({}, str(repo)) == head  # a detached head
    git(repo, "checkout", "-q", "main")
    worktree = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", "-b", "side", str(worktree))
    assert (worktree / ".git").is_file()  # gitdir: ...; the refs are in the common dir
    assert commit({}, str(worktree)) == second
    assert commit({}, str(tmp_path / "nowhere")) is None
    assert commit({}, str(tmp_path)) is None  # no .git at all


def _dotgit(root: Path, head: str) -> Path:
    gitdir = root / ".git"
    (gitdir / "refs" / "heads").mkdir(parents=True)
    (gitdir / "HEAD").write_text(head)
    return gitdir


@pytest.mark.parametrize(
    "head",
    [
        "ref: refs/heads/../../../../secret\n",
        "ref: /etc/passwd\n",
        "ref: refs/heads/x/../../../secret\n",
        "ref: refs/heads/.hidden\n",
        "not a ref\n",
        A[:20] + "\n",
        "ref: refs/heads/" + "x" * (SMALL_FILE + 10) + "\n",
        A + "x" * SMALL_FILE,  # longer than a HEAD file may be
    ],
)
def test_hostile_heads_give_no_commit(tmp_path: Path, head: str) -> None:
    gitdir = _dotgit(tmp_path, head)
    (tmp_path / "secret").write_text(A + "\n")  # what an escaping ref would find
    (gitdir / "secret").write_text(A + "\n")
    assert commit({}, str(tmp_path)) is None


def test_links_fifos_and_huge_files_are_not_read(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.write_text(A + "\n")
    root = tmp_path / "r"
    gitdir = _dotgit(root, "ref: refs/heads/main\n")
    (gitdir / "refs" / "heads" / "main").symlink_to(outside)
    assert commit({}, str(root)) is None  # a link is never followed
    (gitdir / "refs" / "heads" / "main").unlink()
    os.mkfifo(gitdir / "refs" / "heads" / "main")  # a read would block forever
    assert commit({}, str(root)) is None
    (gitdir / "refs" / "heads" / "main").unlink()
    with (gitdir / "packed-refs").open("w") as handle:  # the ref past the limit
        line = f"{'b' * 40} refs/tags/t\n"
        handle.write(line * (PACKED_REFS_LIMIT // len(line) + 1))
        handle.write(f"{A} refs/heads/main\n")
    assert commit({}, str(root)) is None
    (gitdir / "packed-refs").write_text(f"# pack-refs with: peeled\n{A} refs/heads/main\n")
    assert commit({}, str(root)) == A
    (root / "wt").mkdir()
    (root / "wt" / ".git").write_text("gitdir: ../nowhere\n")
    assert commit({}, str(root / "wt")) is None


# --- a pull request's head -----------------------------------------------------------------

MERGE = "1" * 40  # GITHUB_SHA in a pull request's run: GitHub's merge commit
HEAD = "ab" * 20  # the pull request's head, as the reviewer and the comment's footer see it


WITH_HEAD = json.dumps({"pull_request": {"head": {"sha": HEAD}}})


def _event(tmp_path: Path, body: object) -> str:
    path = tmp_path / "event.json"
    path.write_text(body if isinstance(body, str) else json.dumps(body, default=str))
    return str(path)


def _pr(tmp_path: Path, body: object, event: str = "pull_request") -> dict[str, str]:
    return {
        "GITHUB_SHA": MERGE,
        "GITHUB_EVENT_NAME": event,
        "GITHUB_EVENT_PATH": _event(tmp_path, body),
    }


def test_a_pull_request_run_names_the_head_not_githubs_merge_commit(tmp_path: Path) -> None:
    event = {"action": "synchronize", "pull_request": {"number": 7, "head": {"sha": HEAD}}}
    assert commit(_pr(tmp_path, event), None) == HEAD
    # Other events keep GITHUB_SHA (a push names the commit pushed).
    assert commit({**_pr(tmp_path, event), "GITHUB_EVENT_NAME": "push"}, None) == MERGE
    # Outside Actions (no GITHUB_SHA) an event file is not looked at.
    env = _pr(tmp_path, event)
    del env["GITHUB_SHA"]
    assert commit(env, None) is None
    assert commit({**_pr(tmp_path, event), "GITHUB_EVENT_PATH": ""}, None) == MERGE


def test_pull_request_target_names_the_head_only_when_the_head_is_checked_out(
    repo: Path, tmp_path: Path
) -> None:
    """GITHUB_SHA is then the base branch's, and the base is what checkout gives by default."""
    checked_out = git(repo, "rev-parse", "HEAD")
    event = {"pull_request": {"head": {"sha": checked_out}}}
    assert commit(_pr(tmp_path, event, "pull_request_target"), str(repo)) == checked_out
    other = {"pull_request": {"head": {"sha": HEAD}}}
    assert commit(_pr(tmp_path, other, "pull_request_target"), str(repo)) == MERGE
    assert commit(_pr(tmp_path, other, "pull_request_target"), None) == MERGE


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        WITH_HEAD.replace("}}", f', "sha": "{"3" * 40}"}}}}', 1),  # the key twice
        {"pull_request": {"head": {"sha": HEAD.upper()}}},
        {"pull_request": {"head": {"sha": HEAD[:39]}}},
        {"pull_request": {"head": {"sha": HEAD + "\n::error::forged"}}},
        {"pull_request": {"head": {"sha": 2}}},
        {"pull_request": {"head": [HEAD]}},
        {"pull_request": None},
        [HEAD],
        WITH_HEAD[:-1] + ', "x": NaN}',
        WITH_HEAD[:-1] + f', "x": {"[" * 40 + "]" * 40}}}',  # nested past EVENT_DEPTH
        WITH_HEAD[:-1] + f', "body": "{"x" * EVENT_LIMIT}"}}',  # past EVENT_LIMIT
        b"\xff\xfe",
    ],
)
def test_an_odd_event_file_leaves_githubs_sha(tmp_path: Path, body: object) -> None:
    env = _pr(tmp_path, body)
    if isinstance(body, bytes):
        (tmp_path / "event.json").write_bytes(body)
    assert commit(env, None) == MERGE


def test_an_event_path_that_is_not_a_file_leaves_githubs_sha(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")  # a read would wait for a writer forever
    for path in (tmp_path / "fifo", tmp_path / "missing", tmp_path):
        env = {"GITHUB_SHA": MERGE, "GITHUB_EVENT_NAME": "pull_request"}
        assert commit({**env, "GITHUB_EVENT_PATH": str(path)}, None) == MERGE


# --- a working tree that differs from its commit -------------------------------------------


@pytest.fixture
def jobs_repo(tmp_path: Path) -> Path:
    """A repository with jobs/ and a README, committed; the index written a second before,
    so no entry is "racily clean" unless a test makes it so."""
    root = tmp_path / "jobs-repo"
    (root / "jobs" / "team").mkdir(parents=True)
    (root / "jobs" / "a.yaml").write_text("a: 1\n")
    (root / "jobs" / "team" / "b.yaml").write_text("b: 1\n")
    (root / "README").write_text("read me\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "one")
    return root


def _at(root: Path, *paths: str) -> str | None:
    return commit({}, str(root), [str(root / p) for p in paths])


def test_a_clean_tree_is_its_commit_and_an_edit_says_dirty(jobs_repo: Path) -> None:
    head = git(jobs_repo, "rev-parse", "HEAD")
    assert _at(jobs_repo) == head and _at(jobs_repo, "jobs") == head
    a = jobs_repo / "jobs" / "a.yaml"
    a.write_text("a: 2\n")  # same size: only the content tells
    assert _at(jobs_repo) == _at(jobs_repo, "jobs") == head + "-dirty"
    assert _at(jobs_repo, "jobs/team") == head  # the edit is not under it
    assert is_dirty(head + "-dirty") and object_name(head + "-dirty") == head
    a.write_text("a: 1\n")  # back as committed, with a new time: hashed, and the same
    assert _at(jobs_repo) == head
    a.unlink()
    assert _at(jobs_repo, "jobs") == head + "-dirty"
    git(jobs_repo, "checkout", "-q", "--", "jobs")
    (jobs_repo / "README").write_text("edited\n")
    assert _at(jobs_repo, "jobs") == head  # only the paths planned count
    assert _at(jobs_repo) == head + "-dirty"  # with none named, the whole tree does


def test_staged_changes_and_conflicts_are_not_the_commit(jobs_repo: Path) -> None:
    head = git(jobs_repo, "rev-parse", "HEAD")
    (jobs_repo / "jobs" / "team" / "b.yaml").write_text("b: 2\n")
    git(jobs_repo, "add", "jobs")  # the index and the file agree; the commit does not
    assert _at(jobs_repo, "jobs") == head + "-dirty"
    assert _at(jobs_repo, "jobs/team") == head + "-dirty"
    git(jobs_repo, "commit", "-q", "-m", "two")
    second = git(jobs_repo, "rev-parse", "HEAD")
    assert _at(jobs_repo) == second
    (jobs_repo / "README").write_text("staged\n")
    git(jobs_repo, "add", "README")
    assert _at(jobs_repo, "jobs") == second  # staged, but not under the paths
    assert _at(jobs_repo) == second + "-dirty"
    git(jobs_repo, "commit", "-q", "-m", "readme")
    second = git(jobs_repo, "rev-parse", "HEAD")
    (jobs_repo / "jobs" / "new.yaml").write_text("n: 1\n")
    git(jobs_repo, "add", "-N", "jobs/new.yaml")  # intent to add
    assert _at(jobs_repo, "jobs") == second + "-dirty"
    git(jobs_repo, "rm", "-q", "--cached", "jobs/new.yaml")
    (jobs_repo / "jobs" / "new.yaml").unlink()
    git(jobs_repo, "checkout", "-q", "-b", "side", head)
    (jobs_repo / "jobs" / "a.yaml").write_text("a: side\n")
    git(jobs_repo, "commit", "-q", "-am", "side")
    git(jobs_repo, "checkout", "-q", "main")
    (jobs_repo / "jobs" / "a.yaml").write_text("a: main\n")
    git(jobs_repo, "commit", "-q", "-am", "main")
    main = git(jobs_repo, "rev-parse", "HEAD")
    with pytest.raises(subprocess.CalledProcessError):
        git(jobs_repo, "merge", "-q", "side")
    assert _at(jobs_repo, "jobs") == main + "-dirty"  # a merge conflict
    git(jobs_repo, "merge", "--abort")
    assert _at(jobs_repo) == main


def test_every_index_version_and_sha256_and_a_worktree(jobs_repo: Path, tmp_path: Path) -> None:
    head = git(jobs_repo, "rev-parse", "HEAD")
    for version in ("2", "3", "4"):
        git(jobs_repo, "update-index", "--index-version", version)
        assert _at(jobs_repo) == head, version
        (jobs_repo / "jobs" / "team" / "b.yaml").write_text("b: 9\n")
        assert _at(jobs_repo, "jobs/team") == head + "-dirty", version
        git(jobs_repo, "checkout", "-q", "--", "jobs")
    worktree = tmp_path / "wt"
    git(jobs_repo, "worktree", "add", "-q", "-b", "side", str(worktree))
    assert _at(worktree) == head
    (worktree / "jobs" / "a.yaml").write_text("a: in the worktree\n")
    assert _at(worktree) == head + "-dirty" and _at(jobs_repo) == head
    sha256 = tmp_path / "sha256"
    sha256.mkdir()
    git(sha256, "init", "-q", "--object-format=sha256")
    (sha256 / "a").write_text("a\n")
    git(sha256, "add", "a")
    git(sha256, "commit", "-q", "-m", "one")
    long = git(sha256, "rev-parse", "HEAD")
    assert len(long) == 64 and _at(sha256) == long
    (sha256 / "a").write_text("b\n")
    assert _at(sha256) == long + "-dirty"


def test_an_edit_in_the_second_the_index_was_written_is_hashed(jobs_repo: Path) -> None:
    """Same size and time as the index says: believed, as git does, unless the index was
    written no earlier than that time, when the file may have changed after git looked."""
    head = git(jobs_repo, "rev-parse", "HEAD")
    a, index = jobs_repo / "jobs" / "a.yaml", jobs_repo / ".git" / "index"
    then = a.stat().st_mtime_ns
    a.write_text("a: 2\n")  # the same size
    os.utime(a, ns=(then, then))
    os.utime(index, ns=(then + 10**9, then + 10**9))
    assert _at(jobs_repo) == head  # stat says unchanged, and git would say so too
    os.utime(index, ns=(then, then))  # racily clean: the content decides
    assert _at(jobs_repo) == head + "-dirty"


@pytest.mark.parametrize(
    "index",
    [
        b"",
        b"DIRC",
        b"DIRC\x00\x00\x00\x05\x00\x00\x00\x01" + b"\x00" * 40,  # version 5
        b"DIRC\x00\x00\x00\x02\xff\xff\xff\xff" + b"\x00" * 100,  # more entries than bytes
        b"junk" * 100,
    ],
)
def test_a_damaged_index_leaves_the_commit_unlabelled(jobs_repo: Path, index: bytes) -> None:
    head = git(jobs_repo, "rev-parse", "HEAD")
    (jobs_repo / "jobs" / "a.yaml").write_text("a: 2\n")
    (jobs_repo / ".git" / "index").write_bytes(index)
    assert _at(jobs_repo) == head


def test_an_index_naming_files_outside_the_tree_is_not_followed(jobs_repo: Path) -> None:
    """A hand-made index could name ../secret: whether it matches is never looked at."""
    head = git(jobs_repo, "rev-parse", "HEAD")
    index = (jobs_repo / ".git" / "index").read_bytes()
    assert b"jobs/a.yaml" in index
    forged = index.replace(b"jobs/a.yaml", b"../../a.yml")  # same length: still parses
    (jobs_repo / ".git" / "index").write_bytes(forged)
    assert _at(jobs_repo) == head
    (jobs_repo / ".git" / "index").unlink()
    assert _at(jobs_repo) == head  # no index: nothing known
    (jobs_repo / ".git" / "index").symlink_to(jobs_repo / "README")
    assert _at(jobs_repo) == head


def test_past_the_bounds_the_commit_is_left_unlabelled(
    jobs_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = git(jobs_repo, "rev-parse", "HEAD")
    (jobs_repo / "jobs" / "a.yaml").write_text("a: 2\n")
    assert _at(jobs_repo) == head + "-dirty"
    monkeypatch.setattr(provenance, "HASH_BUDGET", 3)  # less than the edited file
    assert _at(jobs_repo) == head
    monkeypatch.setattr(provenance, "HASH_BUDGET", 1 << 20)
    monkeypatch.setattr(provenance, "INDEX_LIMIT", 64)
    assert _at(jobs_repo) == head


def test_a_report_made_from_an_edited_tree_says_so(
    examples_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """End to end: the Markdown header, and the saved plan's commit that show reads back."""
    for name in ("GITHUB_EVENT_NAME", "GITHUB_EVENT_PATH"):
        monkeypatch.delenv(name, raising=False)
    (examples_repo / ".git").rmdir()
    git(examples_repo, "init", "-q", "-b", "main")
    git(examples_repo, "add", "jobs")
    git(examples_repo, "commit", "-q", "-m", "jobs")
    head = git(examples_repo, "rev-parse", "HEAD")
    code, out, err = run("plan", "jobs", "--format", "markdown")
    assert code == 0, err
    assert f"reconciler plan · commit `{head[:12]}` · paths `jobs`" in out
    manifest = examples_repo / "jobs" / "billing" / "jobs.yaml"
    manifest.write_text(manifest.read_text().replace("intervals: 1h30m", "intervals: 30m"))
    code, out, err = run("plan", "jobs", "--format", "markdown", "--out", "plan.json")
    assert code == 0, err
    assert f"commit `{head[:12]}` plus uncommitted changes · paths `jobs`" in out
    assert json.loads(Path("plan.json").read_text())["commit"] == head + "-dirty"
    code, out, err = run("show", "plan.json", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["commit"] == head + "-dirty"
