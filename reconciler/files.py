"""Files the reconciler writes for people and pipelines: whole or not at all.

A plan file or an exported manifest half-written on a full disk reads as a valid but wrong
file later (a plan missing jobs, a manifest missing fields). Every such file is written to a
temporary file beside it, flushed to disk, then renamed over the target: a reader sees the
old file or the new one, never a part.

Only a regular file is replaced. ``--out /dev/null`` run as root would rename a plan over the
device node, ``--out`` naming a FIFO or a socket would remove it, and a symbolic link there
was once silently swapped for a file (the link's owner meant the file it points to, and
writing through it could reach anywhere): each is refused with an OSError whose
``strerror`` is one line saying what is in the way.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile

# What is found in the way, by file type: the one line the refusal says.
_KINDS = (
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
)


class NotReplaced(OSError):
    """Something other than a regular file is at the path: it is left as it was."""

    def __init__(self, path: str, kind: str) -> None:
        super().__init__(errno.EEXIST, f"{kind} is there, not a regular file; left as it is", path)


def write_atomic(path: str, text: str, *, parents: bool = False) -> None:
    """Write ``text`` (UTF-8) to ``path`` whole, or raise OSError leaving ``path`` as it was.

    ``parents``: create the missing directories above ``path`` first (``--out
    build/plans/main.json`` in a fresh checkout); when the write then fails, the directories
    it created are removed again, so a failed write leaves the tree as it found it. ``.``
    and ``..`` in the missing part are taken as the names of directories (``q/./r``,
    ``nd/../s.json``). Anything at ``path`` but a regular file: :class:`NotReplaced`, with
    nothing made or written.
    """
    head, name = os.path.split(path)
    if name in ("", ".", ".."):
        raise IsADirectoryError(errno.EISDIR, "names a directory, not a file", path)
    directory, missing = _resolve(head) if parents else (head or ".", [])
    _check_replaceable(os.path.join(directory, name))
    created = _make(missing)
    try:
        # The directory as the system finds it: mkstemp makes its own path absolute by
        # text alone, which puts the temporary file of ``link/../f`` beside the link rather
        # than beside ``f``, and the rename then fails or lands elsewhere.
        directory = os.path.realpath(directory)
        _write_whole(os.path.join(directory, name), directory, text)
    except BaseException:
        _remove(created)
        raise


def _resolve(head: str) -> tuple[str, list[str]]:
    """``head`` with ``.`` dropped and each ``..`` after a missing directory taken back,
    and the directories still to be made, outermost first.

    ``q/./r`` and ``nd/../s.json`` name ``q/r`` and ``s.json`` once the missing ``q`` and
    ``nd`` are taken as directories; made literally they fail (``q/.`` exists by the time
    it is reached). A ``..`` after a directory that exists is kept for the system to follow:
    that directory may be a link, and only the system knows where its ``..`` is.
    """
    root = os.sep if head.startswith(os.sep) else ""
    parts: list[str] = []
    missing_from = None  # the index in parts of the first directory that does not exist
    for part in head.split(os.sep):
        if part in ("", "."):
            continue
        if part == ".." and missing_from is not None and len(parts) > missing_from:
            parts.pop()
            if len(parts) == missing_from:
                missing_from = None
            continue
        parts.append(part)
        if missing_from is None and not os.path.lexists(root + os.path.join(*parts)):
            missing_from = len(parts) - 1
    if not parts:
        return root or ".", []
    directory = root + os.path.join(*parts)
    if missing_from is None:
        return directory, []
    return directory, [
        root + os.path.join(*parts[: i + 1]) for i in range(missing_from, len(parts))
    ]


def _check_replaceable(path: str) -> None:
    """Refuse (NotReplaced) when what is at ``path`` is anything but a regular file."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except NotADirectoryError:
        return  # the write itself reports it, as for any other path through a file
    if stat.S_ISREG(mode):
        return
    kind = next((k for test, k in _KINDS if test(mode)), "a special file")
    raise NotReplaced(path, kind)


def _make(missing: list[str]) -> list[str]:
    """Make each directory of ``missing`` (outermost first); those made, or none on failure."""
    created: list[str] = []
    try:
        for made in missing:
            os.mkdir(made)
            created.append(made)
    except BaseException:
        _remove(created)
        raise
    return created


def _remove(created: list[str]) -> None:
    for made in reversed(created):
        with contextlib.suppress(OSError):
            os.rmdir(made)


def _write_whole(path: str, directory: str, text: str) -> None:
    handle, temporary = tempfile.mkstemp(
        prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory
    )
    try:
        # newline="": the text is written as given (a CRLF manifest stays CRLF everywhere).
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        # mkstemp makes the file 0600; a manifest or a plan is as readable as any other file.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
