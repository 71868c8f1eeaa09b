"""``reconciler schema``: the job schema, printed or kept in the repository."""

from __future__ import annotations

import os

from ..errors import UsageError
from ..files import write_atomic
from ..schema import JOB_SCHEMA_FILE, job_schema_text
from ..strings import printable


def run(directory: str | None) -> tuple[str, str | None]:
    """The schema's text, and the path it was written to (None: not written)."""
    text = job_schema_text()
    if directory is None:
        return text, None
    path = os.path.join(directory, JOB_SCHEMA_FILE)
    try:
        os.makedirs(directory, exist_ok=True)
        write_atomic(path, text)
    except OSError as exc:
        raise UsageError(f"cannot write {printable(path)}: {exc.strerror}") from exc
    return text, path
