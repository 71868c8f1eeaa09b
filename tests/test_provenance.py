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

from reconciler.provenance import EVENT_LIMIT, PACKED_REFS_LIMIT, SMALL_FILE, commit

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
