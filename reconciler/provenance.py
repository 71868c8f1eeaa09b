"""Which commit a run planned, for the header of a report: pure, no subprocess, bounded reads.

In GitHub Actions ``GITHUB_SHA`` names it. Elsewhere the repository's own files do:
``.git/HEAD`` holds a commit (a detached head) or ``ref: refs/heads/NAME``, whose commit is in
the loose ref file or in ``packed-refs``. ``.git`` may be a file (``gitdir: PATH``, a worktree
or a submodule), whose ``commondir`` names where the shared refs live. Everything read is
untrusted (a pull request can hold a ``.git`` file): each read is bounded, a ref name must be
a plain ``refs/...`` path, and only a 40- or 64-hex object name (SHA-1 or SHA-256) is
believed. Anything else gives None: a report without a commit, never an error.

In a pull request's run ``GITHUB_SHA`` is the merge commit GitHub made, which no reviewer
sees; the pull request's head is in the event file ``GITHUB_EVENT_PATH`` names. That file
holds the pull request's title and body, so it is read as untrusted too: bounded, strict JSON,
and a head that is not an object name leaves ``GITHUB_SHA``.

A working tree with uncommitted changes is still named by its HEAD: telling would mean
reading and comparing git's index (``git status`` is not run: it runs what the repository's
configuration names, and a pull request can bring a ``.git`` of its own).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from typing import BinaryIO

from .errors import UsageError
from .jsonfile import load_bounded

# Object names as git writes them: SHA-1 (40 hex) or SHA-256 (64 hex).
_OBJECT = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")
# A ref under refs/: no empty, dot-led or ".." component (so never out of the git directory).
_REF = re.compile(r"refs(?:/[A-Za-z0-9_+@-][A-Za-z0-9._+@-]*)+")
# HEAD, a loose ref or a gitdir/commondir file: a line, with room for a long path.
SMALL_FILE = 4096
# packed-refs: read no further than this (a repository with very many tags); a ref past it
# is not found, which only leaves the commit out of the header.
PACKED_REFS_LIMIT = 8 * 1024 * 1024
# A pull_request event: the title and body (up to 65,536 characters each, escaped) and the
# repository and user objects; real ones are tens of kilobytes. Past this, GITHUB_SHA stands.
EVENT_LIMIT = 2 * 1024 * 1024
EVENT_DEPTH = 32
# The events whose payload names the pull request's head.
PULL_REQUEST_EVENTS = ("pull_request", "pull_request_target")


def commit(env: Mapping[str, str], root: str | None) -> str | None:
    """The commit being planned, or None: in GitHub Actions ``GITHUB_SHA`` (a pull request's
    head in its own run), else what ``root``'s ``.git`` says."""
    named = _object(env.get("GITHUB_SHA", ""))
    gitdir = _gitdir(os.path.join(root, ".git")) if root else None
    if named is not None:
        return _pull_request_head(env, gitdir) or named
    return head_commit(gitdir) if gitdir is not None else None


def _pull_request_head(env: Mapping[str, str], gitdir: str | None) -> str | None:
    """``pull_request.head.sha`` of the event file, in a pull request's run; else None.

    A ``pull_request`` run checks out GitHub's merge of that head into the base, which is the
    head as the reviewer sees it. A ``pull_request_target`` run checks out the base
    (``GITHUB_SHA``) unless its workflow asks for the head, so the head is named only when
    the checkout's HEAD is that commit.
    """
    event = env.get("GITHUB_EVENT_NAME")
    if event not in PULL_REQUEST_EVENTS:
        return None
    head = _event_head(env.get("GITHUB_EVENT_PATH", ""))
    if head is None or event == "pull_request":
        return head
    return head if gitdir is not None and head_commit(gitdir) == head else None


def _event_head(path: str) -> str | None:
    """``pull_request.head.sha`` in the event file at ``path``, if it is an object name."""
    if not path:
        return None
    try:
        event = load_bounded(path, "GitHub event file", EVENT_LIMIT, EVENT_DEPTH)
    except UsageError:
        return None
    head: object = event
    for key in ("pull_request", "head", "sha"):
        head = head.get(key) if isinstance(head, dict) else None
    # Exactly what GitHub writes: 40 (or 64) lowercase hex, nothing around it.
    return head if isinstance(head, str) and _OBJECT.fullmatch(head) else None


def head_commit(gitdir: str) -> str | None:
    """The commit ``gitdir``'s HEAD names, directly or through one ref; or None."""
    head = _read(os.path.join(gitdir, "HEAD"), SMALL_FILE)
    if head is None:
        return None
    head = head.strip()
    if not head.startswith("ref:"):
        return _object(head)
    ref = head[4:].strip()
    if not _REF.fullmatch(ref) or any(part in ("", ".", "..") for part in ref.split("/")):
        return None
    common = _commondir(gitdir)
    for place in dict.fromkeys((gitdir, common)):
        loose = _read(os.path.join(place, *ref.split("/")), SMALL_FILE)
        if loose is not None:
            return _object(loose.strip())
    return _packed(os.path.join(common, "packed-refs"), ref)


def _object(text: str) -> str | None:
    text = text.strip().lower()
    return text if _OBJECT.fullmatch(text) else None


def _open(path: str) -> BinaryIO | None:
    """``path`` opened for reading if it is a regular file reached without a link; else None."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    handle = os.fdopen(fd, "rb")
    try:
        regular = stat.S_ISREG(os.fstat(fd).st_mode)
    except OSError:
        regular = False
    if not regular:  # a FIFO or a device would block or never end
        handle.close()
        return None
    return handle


def _read(path: str, limit: int) -> str | None:
    """A regular file of at most ``limit`` bytes, as text; None for anything else."""
    handle = _open(path)
    if handle is None:
        return None
    try:
        with handle:
            data = handle.read(limit + 1)
    except OSError:
        return None
    if len(data) > limit:
        return None  # too long for what it claims to be
    return data.decode("utf-8", "replace")


def _gitdir(dotgit: str) -> str | None:
    """``.git`` itself when a directory; the directory a ``gitdir:`` file names; or None."""
    if os.path.isdir(dotgit) and not os.path.islink(dotgit):
        return dotgit
    text = _read(dotgit, SMALL_FILE)
    if text is None or not text.startswith("gitdir:"):
        return None
    named = text[len("gitdir:") :].strip()
    if not named or "\n" in named or "\x00" in named:
        return None
    path = os.path.join(os.path.dirname(dotgit), named)
    return path if os.path.isdir(path) else None


def _commondir(gitdir: str) -> str:
    """Where the shared refs live: ``commondir`` (a worktree's) or the git directory itself."""
    text = _read(os.path.join(gitdir, "commondir"), SMALL_FILE)
    named = text.strip() if text is not None else ""
    if not named or "\n" in named or "\x00" in named:
        return gitdir
    path = os.path.join(gitdir, named)
    return path if os.path.isdir(path) else gitdir


def _packed(path: str, ref: str) -> str | None:
    """``ref``'s commit in a ``packed-refs`` file (``<object> <ref>`` lines), read bounded."""
    handle = _open(path)
    if handle is None:
        return None
    wanted = ref.encode()
    read = 0
    try:
        with handle:
            while read < PACKED_REFS_LIMIT:
                line = handle.readline(SMALL_FILE)
                if not line:
                    return None
                read += len(line)
                name, _, rest = line.rstrip(b"\r\n").partition(b" ")
                if rest == wanted:
                    return _object(name.decode("ascii", "replace"))
    except OSError:
        return None
    return None
