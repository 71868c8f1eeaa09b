"""Servers that misbehave, on 127.0.0.1: each run ends within its deadline with one clear
line, never a traceback, never a duplicate job; and our own server holds against clients
that misbehave."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from reconciler.apply import apply_plan
from reconciler.errors import TargetError
from reconciler.plan import build_plan
from reconciler.server import create_app, load_seed
from reconciler.server.accounts import Accounts
from reconciler.server.run import GuardedH11Protocol
from reconciler.targets.ductape import DuctapeTarget, RetryPolicy
from reconciler.targets.store import Store
from testing.process import EXAMPLE_SEED
from testing.server import RunningServer
from testing.wire import (
    CREDS,
    LOGIN_OK,
    PRODUCT,
    WORKSPACE,
    access_lines,
    answer,
    envelope,
    fake_ductape,
    forward,
    job,
    raw_server,
    read_request,
    server_with,
    target_for,
)

QUICK = RetryPolicy(attempts=3, base=0.01, cap=0.05, budget=5, request_timeout=1.0)


def one_line(message: str) -> None:
    assert "\n" not in message and "Traceback" not in message and len(message) < 400, message


# --- the HTTP target against hostile servers --------------------------------------------------


def trickle(conn: socket.socket) -> None:
    """A status line and headers one byte at a time, a byte every 0.3 s, for up to 20 s."""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + b"X-Slow: " + b"a" * 500
    for byte in head[:66]:
        conn.sendall(bytes([byte]))
        time.sleep(0.3)


def silence(conn: socket.socket) -> None:
    time.sleep(20)


@pytest.mark.parametrize("behaviour", [trickle, silence], ids=["trickle", "never-answers"])
@pytest.mark.slow
def test_a_slow_server_cannot_hold_a_run_past_its_deadline(
    behaviour: Callable[[socket.socket], None],
) -> None:
    with raw_server(fake_ductape(on_read=behaviour)) as url:
        target = DuctapeTarget(url, CREDS, PRODUCT, retry=QUICK, timeout=2.5)
        started = time.monotonic()
        with pytest.raises(TargetError) as caught:
            target.fetch_jobs()
        took = time.monotonic() - started
        target.close()
    assert took < 3.5, took
    one_line(str(caught.value))
    assert "read product" in str(caught.value)


@pytest.mark.slow
def test_each_request_has_a_total_deadline_without_a_run_deadline() -> None:
    """A trickle that never lets a single read time out still ends each request in ~1 s."""
    with raw_server(fake_ductape(on_read=trickle)) as url:
        target = DuctapeTarget(url, CREDS, PRODUCT, retry=QUICK)
        started = time.monotonic()
        with pytest.raises(TargetError, match=r"gave up after retries \(timed out"):
            target.fetch_jobs()
        took = time.monotonic() - started
        target.close()
    assert 2.5 < took < 5, took  # three attempts of one second each


@pytest.mark.parametrize(
    ("retry_after", "expect", "limit"),
    [
        ("nan", r"gave up after retries \(HTTP 429\)$", 3.0),
        ("inf", r"gave up after retries \(HTTP 429\)$", 3.0),
        ("-3", r"gave up after retries \(HTTP 429\)$", 3.0),
        # Refused at once; waiting would take the 5 s budget. 2.5 s holds on a loaded machine.
        ("1e12", r"asked to wait 1e\+12s, past the limit\)$", 2.5),
        ("Wed, 21 Oct 2999 07:28:00 GMT", r"past the limit\)$", 2.5),
    ],
)
@pytest.mark.slow
def test_retry_after_that_is_not_a_sane_number(retry_after: str, expect: str, limit: float) -> None:
    def busy(conn: socket.socket) -> None:
        answer(conn, 429, b"{}", {"Retry-After": retry_after})

    with raw_server(fake_ductape(on_read=busy)) as url:
        target = DuctapeTarget(url, CREDS, PRODUCT, retry=QUICK)
        started = time.monotonic()
        with pytest.raises(TargetError, match=expect) as caught:
            target.fetch_jobs()
        target.close()
    assert time.monotonic() - started < limit
    one_line(str(caught.value))


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[" * 200_000 + b"]" * 200_000, b'{"status": true, "data": ' * 5000],
    ids=["malformed", "deeply-nested-list", "deeply-nested-envelope"],
)
@pytest.mark.slow
def test_malformed_and_deeply_nested_answers_are_one_line(body: bytes) -> None:
    with raw_server(fake_ductape(on_read=lambda c: answer(c, 200, body))) as url:
        target = DuctapeTarget(url, CREDS, PRODUCT, retry=QUICK)
        with pytest.raises(TargetError) as caught:
            target.fetch_jobs()
        target.close()
    assert str(caught.value) == "Ductape read product: the answer is not a JSON envelope"


def test_escapes_in_server_text_and_live_tags_are_shown_escaped() -> None:
    evil_tag = "x\x1b[2J\nerror: forged"
    product = {"_id": PRODUCT, "jobs": [{"_id": "d" * 24, "tag": evil_tag, "name": 5}]}

    def put(conn: socket.socket) -> None:
        message = {"status": False, "meta": {}, "errors": "bad \x1b]8;;http://evil\x07 \n forged"}
        answer(conn, 422, json.dumps(message).encode())

    handler = fake_ductape(on_read=lambda c: answer(c, 200, envelope(product)), on_put=put)
    with raw_server(handler) as url:
        target = DuctapeTarget(url, CREDS, PRODUCT, retry=QUICK)
        live = target.fetch_jobs()
        with pytest.raises(TargetError) as caught:
            target.create_job(job("ok"))
        target.close()
    (bad,) = live.malformed
    one_line(bad.message)
    assert "\x1b" not in bad.message and "\\x1b" in bad.message
    one_line(str(caught.value))
    assert "\x1b" not in str(caught.value) and "\x07" not in str(caught.value)


class LaggingReads:
    """In front of the real server: every PUT lands but its answer is lost, and a product
    read answers what the product held ``lag`` seconds earlier."""

    def __init__(self, upstream: str, lag: float) -> None:
        self.upstream = upstream
        self.lag = lag
        self.snapshots: list[tuple[float, bytes]] = []
        self.puts = 0
        self.lock = threading.Lock()

    async def handle(self, request: Any) -> Any:
        from starlette.responses import Response

        upstream = await forward(self.upstream, request)
        if request.method == "PUT":
            with self.lock:
                self.puts += 1
            return Response(b"lost", status_code=503)
        content = upstream.content
        if request.method == "GET" and upstream.status_code == 200:
            now = time.monotonic()
            with self.lock:
                self.snapshots.append((now, content))
                old = [body for at, body in self.snapshots if at <= now - self.lag]
                content = old[-1] if old else self.snapshots[0][1]
        return Response(content, upstream.status_code, media_type="application/json")


@contextmanager
def lagging(server: RunningServer, lag: float) -> Iterator[tuple[str, LaggingReads]]:
    from starlette.applications import Starlette
    from starlette.routing import Route

    from testing.server import serve_app

    proxy = LaggingReads(server.base_url, lag)
    app = Starlette(routes=[Route("/{path:path}", proxy.handle, methods=["GET", "POST", "PUT"])])
    with serve_app(app) as url:
        yield url, proxy


@pytest.mark.parametrize(("window", "expected"), [(4.0, "ok"), (0.4, "unknown")])
@pytest.mark.slow
def test_creates_whose_answers_are_lost_while_reads_lag(
    tmp_path: Path, window: float, expected: str
) -> None:
    """Reads lag writes by 1.5 s and every create's answer is lost: each job is written
    exactly once; within the window it is confirmed, past it reported unknown."""
    with server_with(tmp_path / "lag.db") as s, lagging(s, 1.5) as (url, proxy):
        policy = RetryPolicy(attempts=4, base=0.1, cap=0.5, budget=10, confirm_window=window)
        target = target_for(s, url=url, retry=policy, timeout=30)
        try:
            plan = build_plan({f"j{i}": job(f"j{i}") for i in range(6)}, target.fetch_jobs())
            report = apply_plan(plan, target, parallelism=3)
        finally:
            target.close()
        assert [r.status for r in report.results] == [expected] * 6, report.summary()
        assert proxy.puts == 6  # never a second create
        time.sleep(1.6)
        doc = s.store.product_document(s.product_id)
        assert doc is not None
        tags = [j["tag"] for j in doc["jobs"] if j["tag"].startswith("j")]
        assert sorted(tags) == [f"j{i}" for i in range(6)]


# --- our server against hostile clients ------------------------------------------------------


class QuickGuard(GuardedH11Protocol):
    head_seconds = 0.5


@contextmanager
def guarded_server(tmp_path: Path) -> Iterator[tuple[str, int]]:
    store = Store(str(tmp_path / "guard.db"))
    load_seed(store, str(EXAMPLE_SEED))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(create_app(store), log_level="warning", lifespan="off", http=QuickGuard)  # type: ignore[arg-type]
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield "127.0.0.1", sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        store.close()


@pytest.mark.parametrize("sent", [b"", b"GET /integrations/integrations/v1/x HTTP/1.1\r\nHo"])
@pytest.mark.slow
def test_half_open_connections_are_closed(tmp_path: Path, sent: bytes) -> None:
    with guarded_server(tmp_path) as address:
        with socket.create_connection(address, timeout=5) as conn:
            conn.sendall(sent)
            started = time.monotonic()
            assert conn.recv(100) == b""  # closed by the server, not by our timeout
            took = time.monotonic() - started
        # A healthy keep-alive client is not cut off.
        with httpx.Client(base_url=f"http://{address[0]}:{address[1]}", timeout=5) as client:
            for _ in range(3):
                assert client.get("/nope").status_code == 404
                time.sleep(0.3)
    assert 0.3 < took < 2, took


@pytest.mark.slow
def test_the_access_log_cannot_be_forged(tmp_path: Path, ductape_server: RunningServer) -> None:
    with access_lines() as log, httpx.Client(base_url=ductape_server.base_url) as client:
        client.get("/x%0A2026-11-30 INFO reconciler.server.access GET /forged 200/%1b[31m")
        log.settle()
    (line,) = log.lines
    assert "\n" not in line and "\x1b" not in line
    assert "/x%0A2026-11-30" in line and "%1b[31m" in line


@pytest.mark.slow
def test_deeply_nested_json_bodies_are_400(ductape_server: RunningServer) -> None:
    with httpx.Client(base_url=ductape_server.base_url, timeout=10) as client:
        response = client.post(
            "/users/users/v1/login/authKey",
            content=b"[" * 100_000 + b"]" * 100_000,
            headers={"Content-Type": "application/json"},
        )
    assert response.status_code == 400
    assert response.json()["errors"] == "the request body nests too deeply"


@pytest.mark.slow
def test_log_ins_are_throttled_per_user(ductape_server: RunningServer) -> None:
    s = ductape_server
    body = {"user_id": s.user_id, "workspace_id": s.workspace_id, "private_key": "wrong"}
    with httpx.Client(base_url=s.base_url, timeout=10) as client:
        statuses = [
            client.post("/users/users/v1/login/authKey", json=body).status_code for _ in range(31)
        ]
        right = client.post(
            "/users/users/v1/login/authKey", json={**body, "private_key": s.private_key}
        )
    assert statuses == [401] * 30 + [429]
    assert right.status_code == 429  # the throttle is per user, not per key tried


@pytest.mark.slow
def test_the_log_in_limit_can_be_raised_for_load_tests(tmp_path: Path) -> None:
    with server_with(tmp_path / "load.db", logins_per_minute=100) as s:
        body = {"user_id": s.user_id, "workspace_id": s.workspace_id, "private_key": s.private_key}
        with httpx.Client(base_url=s.base_url, timeout=10) as client:
            statuses = {
                client.post("/users/users/v1/login/authKey", json=body).status_code
                for _ in range(40)
            }
    assert statuses == {201}


def test_token_rows_are_bounded_per_user(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "tokens.db"))
    try:
        info = load_seed(store, str(EXAMPLE_SEED))
        accounts = Accounts(store, logins_per_minute=1000)
        for _ in range(80):
            assert accounts.login(info.user_id, info.workspace_id, info.private_key)
        (count,) = store.read("SELECT COUNT(*) FROM server_tokens")[0]
    finally:
        store.close()
    assert count == 50


@pytest.mark.slow
def test_reads_do_not_wait_for_the_write_lock(tmp_path: Path) -> None:
    """A writer holds the lock (another process would): the server still answers reads."""
    import sqlite3

    with server_with(tmp_path / "locked.db") as s:
        target = target_for(s)
        target.fetch_jobs()  # logged in before the lock is taken
        other = sqlite3.connect(s.db_path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            started = time.monotonic()
            live = target.fetch_jobs()
            took = time.monotonic() - started
        finally:
            other.execute("ROLLBACK")
            other.close()
            target.close()
    assert [j.tag for j in live] == ["purge_expired_sessions"]
    # A read that waited for the lock would wait the 10 s busy timeout; 3 s leaves a loaded
    # 2-core machine room for the request itself.
    assert took < 3.0, took


@pytest.mark.slow
def test_a_proxy_from_the_environment_is_still_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """The deadline wraps httpx's own connection pools, so HTTP(S)_PROXY keeps working."""
    seen: list[bytes] = []

    def proxy(conn: socket.socket) -> None:
        request = read_request(conn)
        seen.append(request.split(b"\r\n", 1)[0])
        answer(conn, 401, b'{"status": false, "meta": {}, "errors": "proxy says no"}')

    with raw_server(proxy) as proxy_url:
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        target = DuctapeTarget("http://127.0.0.2:1", CREDS, PRODUCT, retry=QUICK)
        with pytest.raises(TargetError, match="proxy says no"):
            target.fetch_jobs()
        target.close()
    assert seen == [b"POST http://127.0.0.2:1/users/users/v1/login/authKey HTTP/1.1"]


@pytest.mark.slow
def test_the_deadline_holds_through_an_environment_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    def trickling_proxy(conn: socket.socket) -> None:
        read_request(conn)
        trickle(conn)

    with raw_server(trickling_proxy) as proxy_url:
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        target = DuctapeTarget("http://127.0.0.2:1", CREDS, PRODUCT, retry=QUICK, timeout=2.0)
        started = time.monotonic()
        with pytest.raises(TargetError):
            target.fetch_jobs()
        target.close()
    # The 2 s deadline plus 2 s for a loaded machine; the trickle alone would last 20 s.
    assert time.monotonic() - started < 4.0


def test_tags_from_the_server_stay_one_path_segment() -> None:
    paths: list[bytes] = []
    evil = "../../../users/users/v1/login/authKey?steal=1"
    product = {"_id": PRODUCT, "jobs": [], "apps": [{"access_tag": evil}]}

    def read(conn: socket.socket) -> None:
        request = read_request(conn)
        paths.append(request.split(b" ")[1]) if request else None
        answer(conn, 200, envelope(product))

    def handle(conn: socket.socket) -> None:
        first = read_request(conn)  # the log-in
        answer(conn, 201, LOGIN_OK)
        paths.append(first.split(b" ")[1])
        for _ in range(5):
            read(conn)

    with raw_server(handle) as url:
        target = DuctapeTarget(url, CREDS, PRODUCT, retry=QUICK)
        target.catalogue()
        target.close()
    assert paths[2].startswith(
        f"/apps/apps/v1/access/{WORKSPACE}/..%2F..%2F..%2Fusers%2Fusers%2Fv1%2Flogin%2FauthKey%3Fsteal%3D1?".encode()
    ), paths


def test_a_listed_product_without_a_proper_id_is_not_used() -> None:
    listing = [{"name": "shop", "_id": "../../users/users/v1/login/authKey"}]
    with raw_server(fake_ductape(on_read=lambda c: answer(c, 200, envelope(listing)))) as url:
        target = DuctapeTarget(url, CREDS, "shop", retry=QUICK)
        with pytest.raises(TargetError) as caught:
            target.fetch_jobs()
        target.close()
    assert str(caught.value) == "no product named 'shop' in the workspace"


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_an_answer_past_the_size_limit_is_not_read_to_the_end(declared: bool) -> None:
    def flood(conn: socket.socket) -> None:
        if declared:  # refused on the header alone, before any byte of the body
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10000000000\r\n\r\n")
            time.sleep(3)
            return
        else:
            conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"[" * 65536
        for _ in range(200):  # at most 13 MB, then hang up
            conn.sendall(chunk if declared else b"10000\r\n" + chunk + b"\r\n")

    with raw_server(fake_ductape(on_read=flood)) as url:
        target = DuctapeTarget(url, CREDS, PRODUCT, retry=QUICK, max_answer_bytes=1_000_000)
        with pytest.raises(TargetError) as caught:
            target.fetch_jobs()
        target.close()
    assert str(caught.value) == ("Ductape read product: the answer is larger than 1,000,000 bytes")
