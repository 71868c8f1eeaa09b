"""Files the reconciler writes for people and pipelines: whole or not at all.

A plan file or an exported manifest half-written on a full disk reads as a valid but wrong
file later (a plan missing jobs, a manifest missing fields). Every such file is written to a
temporary file beside it, flushed to disk, then renamed over the target: a reader sees the
old file or the new one, never a part. The rename also replaces a link instead of writing
through it into another place.
"""

from __future__ import annotations

import contextlib
import os
import tempfile


def write_atomic(path: str, text: str, *, parents: bool = False) -> None:
    """Write ``text`` (UTF-8) to ``path`` whole, or raise OSError leaving ``path`` as it was.

    ``parents``: create the missing directories above ``path`` first (``--out
    build/plans/main.json`` in a fresh checkout); when the write then fails, the directories
    it created are removed again, so a failed write leaves the tree as it found it.
    """
    directory = os.path.dirname(path) or "."
    created = _make_parents(directory) if parents else []
    try:
        _write_whole(path, directory, text)
    except BaseException:
        for made in reversed(created):
            with contextlib.suppress(OSError):
                os.rmdir(made)
        raise


def _make_parents(directory: str) -> list[str]:
    """Create ``directory`` and its missing ancestors; the ones created, outermost first."""
    missing: list[str] = []
    here = directory
    while here and not os.path.lexists(here):
        missing.append(here)
        parent = os.path.dirname(here)
        if parent == here:
            break
        here = parent
    created: list[str] = []
    try:
        for made in reversed(missing):
            os.mkdir(made)
            created.append(made)
    except BaseException:
        for made in reversed(created):
            with contextlib.suppress(OSError):
                os.rmdir(made)
        raise
    return created


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
