"""Where live jobs are: the Target protocol, and how a ``--target`` string picks one."""

from __future__ import annotations

import os

from ..errors import UsageError
from .base import Catalogue, Target, WriteResult
from .local import DEFAULT_PATH, DEFAULT_PRODUCT, LocalTarget

__all__ = ["Catalogue", "Target", "WriteResult", "open_target"]


def open_target(spec: str | None, product: str | None) -> Target:
    """The target a ``--target`` value names.

    - none: the embedded SQLite store at ``.reconciler/local.db``;
    - ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db`` (SQLAlchemy's spelling);
    """
    if not spec:
        return LocalTarget(DEFAULT_PATH, product or DEFAULT_PRODUCT)
    if spec.startswith("sqlite:///"):
        path = spec[len("sqlite:///") :]
        if not path:
            raise UsageError(f"--target {spec}: no file path after sqlite:///")
        return LocalTarget(os.path.normpath(path), product or DEFAULT_PRODUCT)
    raise UsageError(f"--target {spec}: unknown target (use sqlite:///PATH)")
