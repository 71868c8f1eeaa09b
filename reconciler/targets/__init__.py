"""Where live jobs are: the Target protocol, and how a ``--target`` string picks one."""

from __future__ import annotations

import os
from collections.abc import Mapping

from ..errors import UsageError
from .base import Catalogue, Target, WriteResult
from .local import DEFAULT_PATH, DEFAULT_PRODUCT, LocalTarget

__all__ = ["Catalogue", "Target", "WriteResult", "open_target"]


def open_target(
    spec: str | None,
    product: str | None,
    env: Mapping[str, str] | None = None,
    *,
    origin: str = "option",
    timeout: float | None = None,
) -> Target:
    """The target a ``--target`` value names.

    - none: the embedded SQLite store at ``.reconciler/local.db``;
    - ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db`` (SQLAlchemy's spelling);
    - ``https://api.ductape.app`` or any ``http(s)://`` base URL: Ductape's wire, with
      credentials from ``DUCTAPE_USER_ID``, ``DUCTAPE_WORKSPACE_ID`` and ``DUCTAPE_PRIVATE_KEY``
      (or ``DUCTAPE_TOKEN`` with ``DUCTAPE_PUBLIC_KEY``).
    """
    if not spec:
        return LocalTarget(DEFAULT_PATH, product or DEFAULT_PRODUCT)
    if spec.startswith("sqlite:///"):
        path = spec[len("sqlite:///") :]
        if not path:
            raise UsageError(f"--target {spec}: no file path after sqlite:///")
        return LocalTarget(os.path.normpath(path), product or DEFAULT_PRODUCT)
    if spec.startswith(("http://", "https://")):
        return _ductape(spec, product, os.environ if env is None else env)
    raise UsageError(f"--target {spec}: unknown target (use sqlite:///PATH or an http(s) URL)")


def _ductape(url: str, product: str | None, env: Mapping[str, str]) -> Target:
    # Imported here: httpx costs start-up time that sqlite runs and --help should not pay.
    from .ductape import Credentials, DuctapeTarget

    missing = [n for n in ("DUCTAPE_USER_ID", "DUCTAPE_WORKSPACE_ID") if not env.get(n)]
    if missing:
        raise UsageError(f"--target {url}: set {' and '.join(missing)}")
    creds = Credentials(
        user_id=env["DUCTAPE_USER_ID"].strip(),
        workspace_id=env["DUCTAPE_WORKSPACE_ID"].strip(),
        private_key=env.get("DUCTAPE_PRIVATE_KEY") or None,
        token=env.get("DUCTAPE_TOKEN") or None,
        public_key=env.get("DUCTAPE_PUBLIC_KEY") or None,
    )
    return DuctapeTarget(url, creds, product or "")
