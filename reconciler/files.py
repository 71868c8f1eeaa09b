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


def write_atomic(path: str, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` whole, or raise OSError leaving ``path`` as it was."""
    directory = os.path.dirname(path) or "."
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
