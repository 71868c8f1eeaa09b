"""Where live jobs are: the Target protocol, and how a ``--target`` string picks one.

Credentials go only where the user chose. A target named by a file in the repository
(``.reconciler.yaml``) is chosen by whoever can push to it, so it gets the ``DUCTAPE_*``
credentials only when ``RECONCILER_ALLOWED_TARGETS`` (an environment variable, outside the
repository) lists it; Ductape's own service is allowed by default. Plain ``http://`` is
refused for any host but this machine's loopback, whoever chose it: the key would travel in
clear text.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from typing import Literal
from urllib.parse import urlsplit

from ..errors import UsageError
from ..strings import printable, shorten
from ..suggest import closest
from .base import Catalogue, LiveJobs, MalformedJob, Target, WriteResult

__all__ = [
    "ALLOWED_BY_DEFAULT",
    "Catalogue",
    "LiveJobs",
    "MalformedJob",
    "Origin",
    "Target",
    "WriteResult",
    "open_target",
]

# Where the target string came from: a flag or environment variable ("option"), a file in
# the repository ("config"), or nowhere ("default").
Origin = Literal["option", "config", "default"]
ALLOWED_BY_DEFAULT = ("https://api.ductape.app",)
ALLOW_VARIABLE = "RECONCILER_ALLOWED_TARGETS"


def open_target(
    spec: str | None,
    product: str | None,
    env: Mapping[str, str] | None = None,
    *,
    origin: Origin = "option",
    timeout: float | None = None,
    home: str = "",
    named: str = "--target",
) -> Target:
    """The target a ``--target`` value names (``named``: where it was written, for messages:
    ``--target``, ``RECONCILER_TARGET`` or ``target: in .reconciler.yaml``).

    - none: the embedded SQLite store at ``.reconciler/local.db``, unless a ``DUCTAPE_*``
      credential is set (then a UsageError: the user meant a real product);
    - an empty string (``--target ""``, ``RECONCILER_TARGET=``): a UsageError, never the store;
    - ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db`` (SQLAlchemy's spelling);
    - ``snapshot:PATH``: a file written by ``reconciler snapshot``, read-only, no credentials;
      ``RECONCILER_MAX_AGE`` (such as ``24h``) refuses an older one;
    - ``https://api.ductape.app`` or any ``http(s)://`` base URL: Ductape's wire, with
      credentials from ``DUCTAPE_USER_ID``, ``DUCTAPE_WORKSPACE_ID`` and ``DUCTAPE_PRIVATE_KEY``
      (or ``DUCTAPE_TOKEN`` with ``DUCTAPE_PUBLIC_KEY``).

    ``timeout`` is the whole run's time limit in seconds: every request, retry and lock wait
    ends by then. ``home`` is the directory the embedded store lives in (beside the
    configuration file; the working directory without one).
    """
    from .local import DEFAULT_PATH, DEFAULT_PRODUCT, LocalTarget  # validate opens none

    environ = os.environ if env is None else env
    busy = min(10.0, timeout) if timeout is not None else 10.0
    if spec is None:
        _refuse_default_with_credentials(environ)
        path = os.path.relpath(os.path.join(home, DEFAULT_PATH)) if home else DEFAULT_PATH
        return LocalTarget(path, product or DEFAULT_PRODUCT, busy_timeout=busy)
    if not spec.strip():
        raise UsageError(
            "the target is empty (--target or RECONCILER_TARGET): name one, such as "
            "https://api.ductape.app or sqlite:///.reconciler/local.db, or unset it"
        )
    if spec.startswith("sqlite:///"):
        path = spec[len("sqlite:///") :]
        if not path:
            raise UsageError(f"{named} {shorten(spec)}: no file path after sqlite:///")
        return LocalTarget(os.path.normpath(path), product or DEFAULT_PRODUCT, busy_timeout=busy)
    if spec.startswith("snapshot:"):
        # Imported here, like httpx: the file format's module loads the schema validator.
        from .snapshot import open_snapshot

        return open_snapshot(spec, product, environ, named)
    if spec.startswith(("http://", "https://")):
        url = _allowed_url(spec, origin, environ)
        return _ductape(url, product, environ, timeout, named)
    raise UsageError(f"{named} {shorten(spec)}: {unknown_target(spec)}")


def unknown_target(spec: str) -> str:
    """Why ``spec`` names no target, with the spelling it was probably meant to have."""
    meant = target_hint(spec)
    if meant:
        return f"unknown target; did you mean {printable(repr(meant))}?"
    return "unknown target (use sqlite:///PATH, snapshot:FILE or an https:// URL)"


def is_target(spec: str) -> bool:
    """Whether ``spec`` is spelt as one of the targets :func:`open_target` opens."""
    return spec.startswith(_SCHEMES)


_SCHEMES = ("sqlite:///", "snapshot:", "http://", "https://")
_SCHEME_NAMES = ("sqlite", "snapshot", "http", "https")
# host:port, as a browser's address bar or a server's log line shows it; [::1]:8080 too.
_HOST_PORT = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?(/\S*)?$")
# A scheme, however it was separated from the rest: "https//x", "https:/x", "sqlite:x.db".
_SCHEME_LIKE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]{1,15})(:/{0,3}|/{1,3})(.*)$", re.DOTALL)


def target_hint(spec: str) -> str | None:
    """The target ``spec`` was probably meant to be, or None.

    ``127.0.0.1:8080`` and ``localhost:8080`` -> ``http://127.0.0.1:8080`` (the local server
    listens on IPv4 loopback, where ``localhost`` may resolve to ``::1`` first);
    ``api.ductape.app`` -> ``https://api.ductape.app``; ``sqlite://x.db``, ``sqlite:x.db``,
    ``file:///x.db`` -> ``sqlite:///x.db``; ``https//x``, ``HTTPS://x``, ``htps://x`` ->
    ``https://x``; a bare ``x.db`` -> ``sqlite:///x.db``; ``live.json`` ->
    ``snapshot:live.json``. Only a spelling :func:`open_target` would take is offered: plain
    ``http://`` only to this machine (``http//example.com`` -> ``https://example.com``), and
    no guess for another scheme's URL (``ftp://h/x.db``).
    """
    text = spec.strip()
    if not text or len(text) > 2048 or any(c.isspace() for c in text):
        return None
    meant = _respelt(text)
    if meant and meant.startswith("http://"):
        host = _host(meant)
        if host is None:
            return None  # no URL at all: nothing to offer
        if not _is_loopback(host):
            meant = "https://" + meant[len("http://") :]  # open_target refuses plain http there
    return meant if meant and meant != spec and is_target(meant) else None


def _host(url: str) -> str | None:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return None


def _respelt(text: str) -> str | None:
    written = _SCHEME_LIKE.match(text)
    if written:
        scheme, separator, rest = written.groups()
        if scheme.lower() == "file" and separator.startswith(":"):
            return _file_url(separator, rest)
        meant = _scheme(scheme, separator, rest)
        if meant is not None or separator.startswith("://"):
            return meant  # a URL of some other scheme (ftp://h/x.db) is not a path: no guess
    return _file(text) or _host_port(text)


def _file(path: str) -> str | None:
    """The target of a file named by its path, by the ending its kind of file has."""
    ending = path.lower()
    if ending.endswith((".db", ".sqlite", ".sqlite3")):
        return "sqlite:///" + path  # the embedded store's spelling
    if ending.endswith(".json"):
        return "snapshot:" + path  # what reconciler snapshot --out writes
    return None


def _file_url(separator: str, rest: str) -> str | None:
    """``file:///abs/x.db``, ``file:/abs/x.db``, ``file://localhost/abs/x.db``, ``file:x.db``
    as the path they name, then as that file's target."""
    if separator == "://":  # file://HOST/PATH: only this machine's files are files here
        host, slash, path = rest.partition("/")
        if host.lower() not in ("", "localhost") or not slash:
            return None
        rest, separator = path, ":///"
    path = ("/" if separator in (":/", ":///") else "") + rest
    return _file(path) if rest else None


def _host_port(text: str) -> str | None:
    host = _HOST_PORT.match(text)
    port = host.group(2) if host else None
    if host and (port or "." in host.group(1) or host.group(1) == "localhost"):
        if port and int(port[1:]) > 65535:
            return None
        name, path = host.group(1), host.group(3) or ""
        if name.lower() == "localhost":
            name = "127.0.0.1"
        if _is_loopback(name.strip("[]").lower()):
            return f"http://{name}{port or ''}{path}"
        return "https://" + text
    return None


def _scheme(scheme: str, separator: str, rest: str) -> str | None:
    scheme = scheme.lower()
    # A scheme with another first letter is another scheme (ftp is not http): no guess.
    known = [k for k in closest(scheme, _SCHEME_NAMES) if k[0] == scheme[0]]
    if not known or not rest:
        return None
    if known[0] == "sqlite":
        # sqlite:/abs.db is a file URL's absolute path; sqlite:x.db, sqlite://x.db relative.
        return "sqlite:///" + ("/" if separator == ":/" else "") + rest
    if known[0] == "snapshot":
        return "snapshot:" + rest
    return f"{known[0]}://" + rest.lstrip("/")


# The variables that carry Ductape credentials: with any of them set, the embedded store is
# never a silent stand-in (a green apply that never reached Ductape).
CREDENTIAL_VARIABLES = (
    "DUCTAPE_USER_ID",
    "DUCTAPE_WORKSPACE_ID",
    "DUCTAPE_PRIVATE_KEY",
    "DUCTAPE_TOKEN",
    "DUCTAPE_PUBLIC_KEY",
)


def _refuse_default_with_credentials(env: Mapping[str, str]) -> None:
    given = [name for name in CREDENTIAL_VARIABLES if env.get(name, "").strip()]
    if given:
        raise UsageError(
            f"{given[0]} is set but no target is named: pass --target (or RECONCILER_TARGET) "
            "https://api.ductape.app, or sqlite:///.reconciler/local.db to use the local file"
        )


def _normal(url: str) -> str:
    """A base URL compared by scheme, host, port (the scheme's default dropped) and path."""
    try:
        parts = urlsplit(url.strip())
        number = parts.port
    except ValueError:
        return ""  # an unusable entry allows nothing
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    port = f":{number}" if number and number != default else ""
    path = parts.path.rstrip("/")
    return f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}{port}{path}"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _allowed_url(spec: str, origin: Origin, env: Mapping[str, str]) -> str:
    """The URL, if credentials may go there; UsageError saying how to allow it if not."""
    shown = shorten(spec, 120)
    try:
        parts = urlsplit(spec)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise UsageError(f"target {shown}: not a valid URL") from exc
    if not host:
        raise UsageError(f"target {shown}: no host in the URL")
    if parts.username is not None or parts.password is not None:
        raise UsageError(
            f"target {shorten(parts.scheme)}://{shorten(host)}: remove user:password@ from the URL"
        )
    if parts.scheme == "http" and not _is_loopback(host):
        raise UsageError(
            f"target {shown}: plain http only to this machine (127.0.0.1, ::1, localhost); "
            "use https:// so credentials are not sent in clear text"
        )
    if origin == "config":
        allowed = {_normal(u) for u in ALLOWED_BY_DEFAULT}
        allowed |= {_normal(u) for u in env.get(ALLOW_VARIABLE, "").split(",") if u.strip()}
        if _normal(spec) not in allowed:
            raise UsageError(
                f"target {shown} comes from .reconciler.yaml and is not allowed to receive "
                f"credentials; pass it with --target or RECONCILER_TARGET, or list it in "
                f"{ALLOW_VARIABLE}"
            )
    return spec


def _ductape(
    url: str,
    product: str | None,
    env: Mapping[str, str],
    timeout: float | None,
    named: str = "--target",
) -> Target:
    # Imported here: httpx costs start-up time that sqlite runs and --help should not pay.
    from .ductape import Credentials, DuctapeTarget

    missing = [n for n in ("DUCTAPE_USER_ID", "DUCTAPE_WORKSPACE_ID") if not env.get(n)]
    if missing:
        raise UsageError(f"{named} {shorten(url)}: set {' and '.join(missing)}")
    creds = Credentials(
        user_id=env["DUCTAPE_USER_ID"].strip(),
        workspace_id=env["DUCTAPE_WORKSPACE_ID"].strip(),
        private_key=env.get("DUCTAPE_PRIVATE_KEY") or None,
        token=env.get("DUCTAPE_TOKEN") or None,
        public_key=env.get("DUCTAPE_PUBLIC_KEY") or None,
    )
    return DuctapeTarget(url, creds, product or "", timeout=timeout)
