"""Servers for the wire tests: the real local server with chosen options, and small hostile
servers (raw sockets on 127.0.0.1) that misbehave in ways the real one never does.

Every server here is bounded: it serves until its context exits, and each connection is
handled in a daemon thread that gives up after a few seconds.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from reconciler.model import Job
from reconciler.server import create_app, load_seed
from reconciler.targets.ductape import Credentials, DuctapeTarget, RetryPolicy
from reconciler.targets.store import Store

from .process import EXAMPLE_SEED
from .server import RunningServer, serve_app

FAST = RetryPolicy(attempts=4, base=0.01, cap=0.05, budget=5, confirm_window=0.5)


@contextmanager
def server_with(
    db_path: Path, seed: Path = EXAMPLE_SEED, **app_options: Any
) -> Iterator[RunningServer]:
    """The real server over ``db_path``, with ``create_app`` options (wire, token_ttl, ...)."""
    store = Store(str(db_path))
    try:
        info = load_seed(store, str(seed))
        with serve_app(create_app(store, **app_options)) as url:
            yield RunningServer(url, str(db_path), info, store)
    finally:
        store.close()


def target_for(server: RunningServer, url: str | None = None, **options: Any) -> DuctapeTarget:
    """A target logged in as the seeded user, on the server's product by id."""
    options.setdefault("retry", FAST)
    return DuctapeTarget(
        url or server.base_url,
        Credentials(server.user_id, server.workspace_id, private_key=server.private_key),
        options.pop("product", server.product_id),
        **options,
    )


class AccessLines(logging.Handler):
    """Collects the server's access log lines (method path status ...)."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self._lock2 = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        with self._lock2:
            self.lines.append(record.getMessage())

    def settle(self, quiet: float = 0.2, limit: float = 3.0) -> None:
        """Wait until no line came for ``quiet`` seconds: the server logs a request after
        its answer went out, so the client may be ahead of the log."""
        end = time.monotonic() + limit
        seen = -1
        while time.monotonic() < end and seen != len(self.lines):
            seen = len(self.lines)
            time.sleep(quiet)

    def count(self, method: str, fragment: str = "") -> int:
        with self._lock2:
            return sum(1 for x in self.lines if x.startswith(f"{method} ") and fragment in x)


@contextmanager
def access_lines() -> Iterator[AccessLines]:
    logger = logging.getLogger("reconciler.server.access")
    handler = AccessLines()
    old = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)


@contextmanager
def raw_server(handle: Callable[[socket.socket], None]) -> Iterator[str]:
    """A TCP server on 127.0.0.1 calling ``handle(conn)`` per connection in a daemon thread."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve_one(conn: socket.socket) -> None:
        conn.settimeout(10)
        try:
            handle(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=serve_one, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def read_request(conn: socket.socket) -> bytes:
    """The request head and body (by Content-Length) from ``conn``."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def answer(
    conn: socket.socket, status: int, body: bytes, headers: dict[str, str] | None = None
) -> None:
    lines = [
        f"HTTP/1.1 {status} X",
        f"Content-Length: {len(body)}",
        "Content-Type: application/json",
    ]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)


LOGIN_OK = b'{"status": true, "meta": {}, "data": {"auth_token": "t0k3n", "public_key": "pk"}}'


def elapsed(start: float) -> float:
    return time.monotonic() - start


async def forward(upstream_url: str, request: Any, timeout: float = 10) -> httpx.Response:
    """Send a starlette ``request`` on to ``upstream_url`` as it came (Host aside)."""
    async with httpx.AsyncClient(base_url=upstream_url, timeout=timeout) as client:
        return await client.request(
            request.method,
            request.url.path,
            params=request.query_params,
            content=await request.body(),
            headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
        )


class Proxy:
    """Forwards to ``upstream``; ``fault(method, path, n)`` may name a fault for request n:

    - ``"lost"``: forwarded (a write lands), then answered 503 as if the answer was lost;
    - ``"refuse"``: answered 503 without forwarding;
    - ``"lag"``: forwarded; a read answers what the same path answered ``lag`` seconds
      before (the first answer seen, until one is that old): reads lag writes.
    """

    def __init__(
        self, upstream: str, fault: Callable[[str, str, int], str | None], lag: float = 0.0
    ) -> None:
        self.upstream = upstream
        self.fault = fault
        self.lag = lag
        self.lock = threading.Lock()
        self.count = 0
        self.snapshots: dict[str, list[tuple[float, bytes]]] = {}  # answers to reads, by path

    async def handle(self, request: Any) -> Any:
        from starlette.responses import Response

        with self.lock:
            self.count += 1
            n = self.count
        mode = self.fault(request.method, request.url.path, n)
        if mode == "refuse":
            return Response(b"busy", status_code=503)
        upstream = await forward(self.upstream, request)
        if mode == "lost":
            return Response(b"bad gateway", status_code=503)
        content = upstream.content
        if mode == "lag" and request.method == "GET" and upstream.status_code == 200:
            now = time.monotonic()
            with self.lock:
                seen = self.snapshots.setdefault(request.url.path, [])
                seen.append((now, content))
                old = [body for at, body in seen if at <= now - self.lag]
                content = old[-1] if old else seen[0][1]
        return Response(
            content, upstream.status_code, media_type=upstream.headers.get("content-type")
        )


@contextmanager
def proxy_to(
    upstream: str, fault: Callable[[str, str, int], str | None], lag: float = 0.0
) -> Iterator[Proxy]:
    from starlette.applications import Starlette
    from starlette.routing import Route

    proxy = Proxy(upstream, fault, lag)
    app = Starlette(routes=[Route("/{path:path}", proxy.handle, methods=["GET", "POST", "PUT"])])
    with serve_app(app) as url:
        proxy.url = url  # type: ignore[attr-defined]
        yield proxy


# --- a fake Ductape on a raw socket, for faults the real server cannot make -----------

USER, WORKSPACE, PRODUCT = "a" * 24, "b" * 24, "c" * 24
CREDS = Credentials(USER, WORKSPACE, private_key="k")


def job(tag: str) -> Job:
    return Job.from_mapping(
        {
            "tag": tag,
            "name": tag,
            "event_type": "function",
            "event_tag": "f",
            "intervals": 60_000,
            "start_at": 1_796_083_200_000,
        }
    )


def envelope(data: Any) -> bytes:
    return json.dumps({"status": True, "meta": {}, "data": data}).encode()


def fake_ductape(
    on_read: Callable[[socket.socket], None] | None = None,
    on_put: Callable[[socket.socket], None] | None = None,
) -> Callable[[socket.socket], None]:
    """A Ductape that logs anyone in and serves an empty product; reads and PUTs as told."""

    def handle(conn: socket.socket) -> None:
        for _ in range(100):  # keep-alive, bounded
            request = read_request(conn)
            if not request:
                return
            method, path = request.split(b" ", 2)[:2]
            if path.endswith(b"/login/authKey"):
                answer(conn, 201, LOGIN_OK)
            elif method == b"PUT":
                (on_put or (lambda c: answer(c, 200, envelope({}))))(conn)
            elif on_read is not None:
                on_read(conn)
            else:
                answer(conn, 200, envelope({"_id": PRODUCT, "name": "p", "jobs": []}))

    return handle
