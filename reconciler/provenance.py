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

A commit read from ``.git`` whose tracked files differ from it (edited, deleted, staged, or
in a merge conflict) is followed by ``-dirty``, as ``git describe --dirty`` writes: the plan
was made from the working tree, not from that commit. This reads ``.git/index`` (bounded) and
compares each entry's size and modification time with the file, hashing the file only when
they differ, so no ``git`` runs: ``git status`` would run what the repository's configuration
names (an fsmonitor hook, a clean filter), and a pull request can bring a ``.git`` of its own.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import struct
from collections.abc import Mapping, Sequence
from typing import BinaryIO, NamedTuple

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
# .git/index: about 100 bytes an entry, so 400,000 tracked files. A larger one leaves the
# commit unlabelled (not known to be dirty), as does hashing more than HASH_BUDGET bytes of
# files whose size or time differ from the index's (a checkout of many large files, touched).
INDEX_LIMIT = 40 * 1024 * 1024
HASH_BUDGET = 64 * 1024 * 1024
DIRTY = "-dirty"


def commit(env: Mapping[str, str], root: str | None, paths: Sequence[str] = ()) -> str | None:
    """The commit being planned, or None: in GitHub Actions ``GITHUB_SHA`` (a pull request's
    head in its own run), else what ``root``'s ``.git`` says, with ``-dirty`` after it when
    tracked files under ``paths`` (all of them when none are given) differ from it."""
    named = _object(env.get("GITHUB_SHA", ""))
    gitdir = _gitdir(os.path.join(root, ".git")) if root else None
    if named is not None:
        return _pull_request_head(env, gitdir) or named
    if root is None or gitdir is None:
        return None
    head = head_commit(gitdir)
    if head is None:
        return None
    return head + DIRTY if dirty(root, gitdir, len(head) // 2, paths) else head


def is_dirty(commit: str) -> bool:
    """Whether ``commit`` (as :func:`commit` gives it) names a working tree that differs."""
    return commit.endswith(DIRTY)


def object_name(commit: str) -> str:
    """The object name alone, without ``-dirty``."""
    return commit.removesuffix(DIRTY)


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


class _Entry(NamedTuple):
    """What ``.git/index`` holds of one tracked file."""

    name: bytes  # relative to the repository's root, ``/`` between parts
    mtime: tuple[int, int]  # seconds (the low 32 bits) and nanoseconds
    mode: int
    size: int  # the low 32 bits of the working file's size when git last looked
    oid: bytes
    flags: int  # stage, assume-valid, and with version 3 or later the extended flags


_ASSUME_VALID = 0x8000
_EXTENDED = 0x4000
_STAGE = 0x3000
_SKIP_WORKTREE = 0x4000 << 16
_INTENT_TO_ADD = 0x2000 << 16
_GITLINK = 0o160000
_SYMLINK = 0o120000


def dirty(root: str, gitdir: str, oid_size: int, paths: Sequence[str] = ()) -> bool:
    """Whether a tracked file under ``paths`` (relative to the working directory; all when
    none) differs from what the index says, or the index from the commit: False when
    that cannot be told (no index, a damaged one, past a bound)."""
    read = _index(os.path.join(gitdir, "index"), oid_size)
    if read is None:
        return False
    entries, tree, written = read
    scopes = _scopes(root, paths)
    if not scopes:
        return False
    budget = [HASH_BUDGET]
    try:
        for entry in entries:
            if _in_scope(entry.name, scopes) and _changed(root, entry, written, budget):
                return True
    except _Unknown:
        return False
    return tree is not None and any(_staged(tree, scope, oid_size) for scope in scopes)


class _Unknown(Exception):
    """Past a bound: whether the tree is dirty is not known."""


def _scopes(root: str, paths: Sequence[str]) -> list[tuple[bytes, ...]]:
    """Each path inside ``root`` as its parts; ``[()]`` (the whole tree) for no paths."""
    if not paths:
        return [()]
    real_root = os.path.realpath(root)
    scopes = []
    for path in paths:
        relative = os.path.relpath(os.path.realpath(path), real_root)
        if relative == os.pardir or relative.startswith(os.pardir + os.sep):
            continue  # outside the repository: nothing of it is tracked here
        parts = tuple(os.fsencode(part) for part in relative.split(os.sep) if part != ".")
        scopes.append(parts)
    return scopes


def _in_scope(name: bytes, scopes: list[tuple[bytes, ...]]) -> bool:
    parts = tuple(name.split(b"/"))
    return any(parts[: len(scope)] == scope for scope in scopes)


def _changed(root: str, entry: _Entry, written: tuple[int, int], budget: list[int]) -> bool:
    """Whether the working file differs from ``entry``: its time and size first, as git
    does; its content hashed when those differ, or when the file changed in the second the
    index was written (git's "racily clean" case)."""
    if entry.flags & (_ASSUME_VALID | _SKIP_WORKTREE) or entry.mode & 0o170000 == _GITLINK:
        return False  # git is told not to look, or another repository's commit
    if entry.flags & (_STAGE | _INTENT_TO_ADD):
        return True  # a merge conflict, or ``git add -N``: not the commit either way
    parts = entry.name.split(b"/")
    if any(part in (b"", b".", b"..", b".git") for part in parts):
        raise _Unknown  # not a name git writes: a hand-made index
    path = os.path.join(os.fsencode(root), *parts)
    try:
        info = os.lstat(path)
    except OSError:
        return True  # deleted (or unreadable, which git would report as well)
    link = entry.mode & 0o170000 == _SYMLINK
    if (stat.S_ISLNK(info.st_mode) if link else stat.S_ISREG(info.st_mode)) is False:
        return True  # a file became a link, a directory, or the reverse
    mtime = (int(info.st_mtime) & 0xFFFFFFFF, info.st_mtime_ns % 1_000_000_000)
    size = info.st_size & 0xFFFFFFFF
    if entry.size not in (0, size):
        return True  # git stores the working file's size; 0 means "look at the content"
    if size == entry.size and mtime == entry.mtime and entry.mtime < written:
        return False
    if info.st_size > budget[0]:
        raise _Unknown
    budget[0] -= info.st_size
    content = os.fsencode(os.readlink(path)) if link else _content(path, info.st_size)
    if content is None:
        return True
    made = hashlib.sha1 if len(entry.oid) == 20 else hashlib.sha256
    return made(b"blob %d\0" % len(content) + content).digest() != entry.oid


def _content(path: bytes, size: int) -> bytes | None:
    handle = _open(os.fsdecode(path))
    if handle is None:
        return None
    try:
        with handle:
            data = handle.read(size + 1)
    except OSError:
        return None
    return data if len(data) == size else None  # it changed while being read


def _index(path: str, oid_size: int) -> tuple[list[_Entry], bytes | None, tuple[int, int]] | None:
    """The entries of a version 2, 3 or 4 index, its cache-tree extension, and when it was
    written; None for anything else (none, a link, too large, damaged)."""
    handle = _open(path)
    if handle is None:
        return None
    try:
        with handle:
            info = os.fstat(handle.fileno())
            data = handle.read(INDEX_LIMIT + 1)
    except OSError:
        return None
    if len(data) > INDEX_LIMIT or len(data) < 12 + oid_size:
        return None
    written = (int(info.st_mtime) & 0xFFFFFFFF, info.st_mtime_ns % 1_000_000_000)
    try:
        entries, tree = _parse_index(data[: len(data) - oid_size], oid_size)
    except (struct.error, ValueError, IndexError):
        return None
    return entries, tree, written


def _parse_index(data: bytes, oid_size: int) -> tuple[list[_Entry], bytes | None]:
    """The entries and the cache tree of an index (its trailing checksum cut off)."""
    signature, version, count = struct.unpack_from(">4sII", data, 0)
    if signature != b"DIRC" or version not in (2, 3, 4):
        raise ValueError("not an index")
    # ctime and dev/ino and uid/gid are skipped: git's own check uses them, but the content
    # is hashed whenever the time or size differs, so they add nothing but false alarms.
    fixed = struct.Struct(f">8xII8xI8xI{oid_size}sH")
    at = 12
    entries: list[_Entry] = []
    previous = b""
    for _ in range(count):
        start = at
        mtime_s, mtime_ns, mode, size, oid, flags = fixed.unpack_from(data, at)
        at += fixed.size
        if flags & _EXTENDED:
            if version < 3:
                raise ValueError("extended flags in a version 2 index")
            flags |= struct.unpack_from(">H", data, at)[0] << 16
            at += 2
        if version == 4:  # the name is what to keep of the last one, and a new ending
            strip, at = _varint(data, at)
            end = data.index(b"\0", at)
            if strip > len(previous):
                raise ValueError("a name strips more than the last one had")
            name = previous[: len(previous) - strip] + data[at:end]
            at = end + 1
        else:  # the name, then 1 to 8 NULs to a multiple of 8 bytes
            length = flags & 0xFFF
            if length == 0xFFF:
                length = data.index(b"\0", at) - at
            name = data[at : at + length]
            at = start + ((at - start + length + 8) & ~7)
        if at > len(data):
            raise ValueError("an entry past the end")
        entries.append(_Entry(name, (mtime_s, mtime_ns), mode, size, oid, flags))
        previous = name
    tree = None
    while at + 8 <= len(data):
        signature, length = struct.unpack_from(">4sI", data, at)
        if signature == b"TREE":
            tree = data[at + 8 : at + 8 + length]
        at += 8 + length
    return entries, tree


def _varint(data: bytes, at: int) -> tuple[int, int]:
    """Git's offset varint (each continuation adds one, so no value has two spellings)."""
    byte = data[at]
    value = byte & 0x7F
    at += 1
    while byte & 0x80:
        if value > 1 << 32:
            raise ValueError("a name length past any index")
        byte = data[at]
        value = ((value + 1) << 7) | (byte & 0x7F)
        at += 1
    return value, at


def _staged(tree: bytes, scope: tuple[bytes, ...], oid_size: int) -> bool:
    """Whether the cache tree says something under ``scope`` was staged since the index last
    matched a tree: git marks a directory's entry invalid (-1) when a file under it is added,
    and a commit, checkout or reset makes it valid again. The deepest directory of ``scope``
    the cache tree holds decides; a damaged cache tree decides nothing."""
    try:
        nodes = _cache_tree(tree, oid_size)
    except (ValueError, IndexError):
        return False
    node = nodes.get(())
    for depth in range(1, len(scope) + 1):
        deeper = nodes.get(scope[:depth])
        if deeper is None:
            break
        node = deeper
    return node is not None and not node


def _cache_tree(tree: bytes, oid_size: int) -> dict[tuple[bytes, ...], bool]:
    """Each directory of the cache-tree extension, by its parts, and whether it is valid.

    Entries come parent first: ``NAME\0COUNT SUBTREES\n``, and the tree's object name
    when COUNT is not -1. Walked with a stack of (parts, subtrees still to come) rather
    than by recursion, so a hand-made one cannot overflow it.
    """
    nodes: dict[tuple[bytes, ...], bool] = {}
    stack: list[tuple[tuple[bytes, ...], int]] = []
    at = 0
    while at < len(tree):
        nul = tree.index(b"\0", at)
        line = tree.index(b"\n", nul)
        count_text, _, subtrees_text = tree[nul + 1 : line].partition(b" ")
        count, subtrees = int(count_text), int(subtrees_text)
        while stack and stack[-1][1] == 0:
            stack.pop()
        if stack:
            above, left = stack.pop()
            stack.append((above, left - 1))
            parts = (*above, tree[at:nul])
        elif nodes or nul != at:
            raise ValueError("not one tree")
        else:
            parts = ()
        nodes[parts] = count >= 0
        at = line + 1 + (oid_size if count >= 0 else 0)
        stack.append((parts, subtrees))
    return nodes


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
