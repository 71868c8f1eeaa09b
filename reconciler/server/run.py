"""``reconciler serve``: open the store, load the seed, listen, print how to connect, run.

The socket is bound before anything is printed: a taken port is one error line, and
``--port 0`` prints the port the system chose.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import sys
import time
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from ..defaults import DEFAULT_DB, DEFAULT_PORT
from ..errors import UsageError
from ..targets.store import Store
from .accounts import TOKEN_TTL_SECONDS
from .app import REQUEST_SECONDS, create_app
from .seed import SeedInfo, load_seed

DEFAULT_HOST = "127.0.0.1"
# A connection must deliver a whole request head within this long of opening (or of its
# last answer): half-open and trickling clients are dropped instead of held forever. The
# body then has as long again (the app's own limit, which holds under any ASGI server).
REQUEST_HEAD_SECONDS = REQUEST_SECONDS


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing connections that never finish sending a request.

    uvicorn times out idle keep-alive connections, but only until their first byte: a client
    that connects and sends nothing, or sends a request head a byte at a time, holds a
    connection forever.
    """

    head_seconds = REQUEST_HEAD_SECONDS

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._idle_since = time.monotonic()
        self._guard: asyncio.TimerHandle | None = self.loop.call_later(
            self.head_seconds, self._check_head
        )

    def on_response_complete(self) -> None:
        self._idle_since = time.monotonic()
        super().on_response_complete()

    def _check_head(self) -> None:
        self._guard = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            wait = self.head_seconds  # a request is being served: look again later
        else:
            wait = self._idle_since + self.head_seconds - time.monotonic()
            if wait <= 0:
                self.transport.close()
                return
        self._guard = self.loop.call_later(wait, self._check_head)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._guard is not None:
            self._guard.cancel()
            self._guard = None
        super().connection_lost(exc)


# A wildcard bind and the loopback address of its family, which the client accepts.
_WILDCARDS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}


def client_url(host: str, port: int) -> tuple[str, str | None, bool]:
    """For a server bound to host:port: the base URL, a note, and whether a client takes it.

    The client sends credentials over plain http to loopback only: a wildcard bind is
    reached through loopback (and the note says it listens on all interfaces); a bind to
    another address is named in the note, with no export the client would refuse.
    """
    loopback = _WILDCARDS.get(host)
    shown = loopback or host
    url = f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"
    if loopback is not None:
        note = f"# listening on all interfaces ({host or '*'}); the exports reach it by loopback"
        return url, note, True
    if _is_loopback(host):
        return url, None, True
    return (
        url,
        (
            f"# {url} is not this machine's loopback: the reconciler sends the key over plain "
            "http only to 127.0.0.1, ::1 or localhost; put an https proxy in front to reach it"
        ),
        False,
    )


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def connection_lines(host: str, port: int, info: SeedInfo | None) -> list[str]:
    """What a client needs, as shell lines; the private key is pointed at, never printed."""
    url, note, usable = client_url(host, port)
    lines = [f"# Ductape-compatible server on {url}"]
    if note is not None:
        lines.append(note)
    if usable:
        # RECONCILER_TARGET is what --target reads, so the exports alone point the CLI here.
        lines.append(f"export RECONCILER_TARGET={url}")
    if info is None:
        lines.append("# no seed loaded: no user can log in until one is")
        return lines
    lines += [
        f"export DUCTAPE_USER_ID={info.user_id}",
        f"export DUCTAPE_WORKSPACE_ID={info.workspace_id}",
    ]
    if info.products:
        lines.append(f"export DUCTAPE_PRODUCT={info.products[0].name}")
    lines.append(f"# DUCTAPE_PRIVATE_KEY: the user.private_key in {info.path} (not printed)")
    return lines


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port; UsageError (one line) when it cannot be had."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return sock


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    db: str = DEFAULT_DB,
    seed: str | None = None,
    *,
    wire: str = "strict",
    token_ttl: float | None = None,
    request_seconds: float = REQUEST_SECONDS,
) -> None:
    """Serve the store at ``db`` on host:port until interrupted, after loading ``seed``.

    ``wire`` is "strict" (Ductape's answers) or "full" (a PUT answers with the product);
    ``token_ttl`` is the tokens' lifetime in seconds: this, else the seed's, else 12 h;
    ``request_seconds`` bounds the wait for a request's head, and then for its body.
    """
    store = Store(db)
    try:
        info = load_seed(store, seed) if seed else None
        ttl = token_ttl or (info.token_ttl if info else None) or TOKEN_TTL_SECONDS
        app = create_app(store, wire=wire, token_ttl=ttl, body_timeout=request_seconds)
        sock = listen(host, port)
        try:
            for line in connection_lines(host, sock.getsockname()[1], info):
                print(line)
            sys.stdout.flush()
            logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
            # access_log off: uvicorn's line carries the query string, where public_key travels.
            guard = type("Guard", (GuardedH11Protocol,), {"head_seconds": request_seconds})
            config: Any = uvicorn.Config(app, access_log=False, http=guard, lifespan="off")
            uvicorn.Server(config).run(sockets=[sock])
        finally:
            sock.close()
    finally:
        store.close()
