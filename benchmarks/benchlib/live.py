"""``reconciler serve`` in a subprocess, a counting proxy in front of it, and the HTTP figures.

The proxy is a small HTTP/1.1 relay on 127.0.0.1: it holds every request for the added latency
(a far-away API), then forwards it, and counts requests and bytes each way by kind. What it
counts is what the client sent and read, whatever the server or the target do inside.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .dataset import (
    EVENT_TAG_VARIANTS,
    PRODUCT,
    Dataset,
    fill,
    open_store,
    wire_job,
    write_manifests,
)
from .measure import CommandFailed, reconciler_cmd, run, time_cmd

# One fake development account, as examples/seed.yaml has; never a real credential.
USER_ID = "66a0000000000000000000a1"
WORKSPACE_ID = "66a0000000000000000000b2"
PRODUCT_ID = "66a0000000000000000000c3"
PRIVATE_KEY = "bench-only-fake-private-key"
LATENCY_S = 0.020
START_TIMEOUT_S = 60.0
PRODUCT_PATH = f"/integrations/integrations/v1/{PRODUCT_ID}"


def client_env() -> dict[str, str]:
    """The environment a CLI run needs to log in to the benchmark's server."""
    return {
        **os.environ,
        "DUCTAPE_USER_ID": USER_ID,
        "DUCTAPE_WORKSPACE_ID": WORKSPACE_ID,
        "DUCTAPE_PRIVATE_KEY": PRIVATE_KEY,
    }


def seed_document() -> dict[str, Any]:
    """The account and product ``bench`` with every event tag the synthetic jobs name."""
    k = range(EVENT_TAG_VARIANTS)
    return {
        "user": {"id": USER_ID, "private_key": PRIVATE_KEY},
        "workspace": {"id": WORKSPACE_ID, "name": "Benchmark"},
        "products": [
            {
                "name": PRODUCT,
                "_id": PRODUCT_ID,
                "catalogue": {
                    "apps": [{"access_tag": "stripe", "actions": [f"list_charges_{t}" for t in k]}],
                    "notifications": [f"weekly_digest_{t}" for t in k],
                    "databases": [{"tag": "orders", "actions": [f"archive_{t}" for t in k]}],
                    "functions": [f"kpis_{t}" for t in k],
                },
            }
        ],
    }


def seeded_store(workdir: Path, name: str, live: list[dict[str, Any]]) -> Path:
    """A fresh server database: the seed loaded, then ``live`` jobs in product ``bench``."""
    from reconciler.server import load_seed

    seed_path = workdir / f"{name}.seed.yaml"
    seed_path.write_text(yaml.safe_dump(seed_document()), encoding="utf-8")
    db = workdir / f"{name}.db"
    for stale in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        stale.unlink(missing_ok=True)
    store = open_store(db)
    try:
        info = load_seed(store, str(seed_path))
        fill(store, info.products[0].id, live)
    finally:
        store.close()
    return db


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def serve(db: Path) -> Iterator[str]:
    """``reconciler serve --db DB`` in a subprocess, its log in DB.log; yields its base URL."""
    port = free_port()
    log_path = db.with_suffix(".log")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [*reconciler_cmd(), "serve", "--db", str(db), "--port", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,  # a file, not a pipe: the access log must never block the server
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                tail = log_path.read_text(errors="replace").strip().splitlines()[-3:]
                raise CommandFailed(
                    f"reconciler serve exited {proc.returncode}: {' | '.join(tail)}"
                )
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if time.monotonic() > deadline:
                raise CommandFailed(f"reconciler serve did not listen within {START_TIMEOUT_S:g} s")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- the counting proxy -------------------------------------------------------------------------


def request_kind(method: str, path: str) -> str:
    """What a request is for, in the wire's terms (ductape-wire.md section 2)."""
    if path.startswith("/users/users/v1/login"):
        return "login"
    if path.startswith("/integrations/integrations/v1/workspace/"):
        return "list products"
    if path.startswith("/integrations/integrations/v1/"):
        return "job write" if method == "PUT" else "read product"
    if path.startswith("/apps/"):
        return "apps"
    if path.startswith("/workspaces/"):
        return "workspace"
    return "other"


@dataclass
class Traffic:
    """Requests and bytes through the proxy, by kind; bytes are whole messages, head and body."""

    requests: Counter[str] = field(default_factory=Counter)
    bytes_sent: Counter[str] = field(default_factory=Counter)
    bytes_read: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)

    def record(self, kind: str, status: int, sent: int, read: int) -> None:
        self.requests[kind] += 1
        self.bytes_sent[kind] += sent
        self.bytes_read[kind] += read
        self.statuses[status] += 1

    def summary(self) -> dict[str, Any]:
        return {
            "requests": sum(self.requests.values()),
            "bytes_sent": sum(self.bytes_sent.values()),
            "bytes_read": sum(self.bytes_read.values()),
            "requests_by_kind": dict(sorted(self.requests.items())),
            "bytes_read_by_kind": dict(sorted(self.bytes_read.items())),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
        }


_MAX_BODY = 512 * 2**20  # a bound on one message: 50,000 jobs are ~15 MB


async def _read_message(reader: asyncio.StreamReader, *, response: bool) -> tuple[bytes, str]:
    """One HTTP/1.1 message, whole; and its first line."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    parts = [head]
    status = lines[0].split(" ", 2)[1] if response else ""
    if response and (status.startswith("1") or status in ("204", "304")):
        return head, lines[0]
    if "chunked" in headers.get("transfer-encoding", "").lower():
        total = 0
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            total += size
            if total > _MAX_BODY:
                raise ValueError("message too large")
            parts += [size_line, await reader.readexactly(size + 2) if size else b""]
            if size == 0:
                while (trailer := await reader.readuntil(b"\r\n")) != b"\r\n":
                    parts.append(trailer)
                parts.append(b"\r\n")
                break
    elif "content-length" in headers:
        length = int(headers["content-length"])
        if length > _MAX_BODY:
            raise ValueError("message too large")
        parts.append(await reader.readexactly(length))
    elif response:
        parts.append(await reader.read(_MAX_BODY))  # the body ends with the connection
    return b"".join(parts), lines[0]


class CountingProxy:
    """An HTTP/1.1 relay on 127.0.0.1 to ``upstream``, adding ``latency`` to every request."""

    def __init__(self, upstream: str, latency: float) -> None:
        host, _, port = upstream.removeprefix("http://").partition(":")
        self.upstream = (host, int(port))
        self.latency = latency
        self.traffic = Traffic()
        self.errors = 0
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="counting-proxy", daemon=True)

    def __enter__(self) -> CountingProxy:
        self._thread.start()
        if not self._ready.wait(10):
            raise CommandFailed("the counting proxy did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        server = loop.run_until_complete(asyncio.start_server(self._relay, "127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            server.close()
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.close()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            self.errors += 1
            writer.close()
            return
        try:
            while True:
                try:
                    request, first = await _read_message(reader, response=False)
                except asyncio.IncompleteReadError as exc:
                    if exc.partial:  # closed in the middle of a request
                        self.errors += 1
                    return  # else the client closed its connection between requests
                method, path = first.split(" ")[:2]
                if self.latency > 0:
                    await asyncio.sleep(self.latency)
                up_writer.write(request)
                await up_writer.drain()
                answer, status_line = await _read_message(up_reader, response=True)
                writer.write(answer)
                await writer.drain()
                status = int(status_line.split(" ", 2)[1])
                kind = request_kind(method, path.split("?", 1)[0])
                self.traffic.record(kind, status, len(request), len(answer))
        except (
            OSError,
            ValueError,
            IndexError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
        ):
            self.errors += 1
        finally:
            for w in (writer, up_writer):
                w.close()
                with contextlib.suppress(OSError, asyncio.CancelledError):
                    await w.wait_closed()


# --- a raw wire client: the writes alone, the load script, checking what a product holds -------


@dataclass(frozen=True)
class Session:
    """A login to the benchmark's server: what every later call carries."""

    headers: dict[str, str] = field(repr=False)
    ids: dict[str, str]


def log_in(base_url: str) -> Session:
    """One login with the benchmark account (one, however many clients share it)."""
    import httpx

    answer = httpx.post(
        f"{base_url}/users/users/v1/login/authKey",
        json={"private_key": PRIVATE_KEY, "workspace_id": WORKSPACE_ID, "user_id": USER_ID},
        timeout=30.0,
    )
    if answer.status_code != 201:
        raise CommandFailed(f"log in to the benchmark server: HTTP {answer.status_code}")
    data = answer.json()["data"]
    return Session(
        headers={"Authorization": f"Bearer {data['auth_token']}"},
        ids={"user_id": USER_ID, "public_key": str(data.get("public_key") or "")},
    )


class WireClient:
    """Writes jobs with the product PUT and reads the product, over one httpx client."""

    def __init__(self, base_url: str, session: Session | None = None, timeout: float = 30.0):
        import httpx

        self.session = session or log_in(base_url)
        self._http = httpx.Client(base_url=base_url, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def create(self, job: dict[str, Any]) -> int:
        """PUT one new job; the HTTP status (a transport failure raises httpx's error)."""
        body = {"component": "job", **job, "workspace_id": WORKSPACE_ID, **self.session.ids}
        answer = self._http.put(PRODUCT_PATH, json=body, headers=self.session.headers)
        return answer.status_code

    def jobs(self) -> list[dict[str, Any]]:
        """Every job document the product holds, from one read."""
        params = {"workspace_id": WORKSPACE_ID, **self.session.ids}
        answer = self._http.get(PRODUCT_PATH, params=params, headers=self.session.headers)
        if answer.status_code != 200:
            raise CommandFailed(f"read the benchmark product: HTTP {answer.status_code}")
        return [job for job in answer.json()["data"].get("jobs") or () if isinstance(job, dict)]

    def job_tags(self) -> list[str]:
        return [str(job.get("tag")) for job in self.jobs()]


def check_holds(url: str, expected: list[dict[str, Any]]) -> None:
    """CommandFailed unless the product holds each expected job exactly once, as sent."""
    client = WireClient(url)
    try:
        held = client.jobs()
    finally:
        client.close()
    count = Counter(str(job.get("tag")) for job in held)
    by_tag = {str(job.get("tag")): job for job in held}
    missing = [j["tag"] for j in expected if count[j["tag"]] == 0]
    twice = [tag for tag, n in count.items() if n > 1]
    differ = [
        j["tag"]
        for j in expected
        if j["tag"] in by_tag and any(by_tag[j["tag"]].get(k) != v for k, v in j.items())
    ]
    if missing or twice or differ:
        raise CommandFailed(
            f"the product lacks {len(missing)} job(s), holds {len(twice)} twice, "
            f"and {len(differ)} differ from what was sent"
        )


# --- the figures --------------------------------------------------------------------------------


def check_summary(output: str, data: Dataset) -> None:
    """CommandFailed unless a plan's JSON summary is the dataset's: 10% updates, no creates."""
    summary = json.loads(output)["summary"]
    want = {"create": 0, "update": data.updates, "unchanged": data.size - data.updates}
    got = {key: summary.get(key) for key in want}
    if got != want or summary.get("unmanaged", 0) != 0:
        raise CommandFailed(f"plan at {data.size}: summary {summary}, expected {want}")


def plan_http(data: Dataset, workdir: Path, repeat: int) -> float:
    """``reconciler plan`` against ``reconciler serve`` holding the same live jobs."""
    db = seeded_store(workdir, f"plan-http-{data.size}", data.live)
    env = client_env()
    cmd = [*reconciler_cmd(), "plan", str(data.root), "--product", PRODUCT]
    with serve(db) as url:
        check_summary(run([*cmd, "--target", url, "--format", "json"], capture=True, env=env), data)
        return time_cmd([*cmd, "--target", url], repeat, env=env)


def _apply_once(
    workdir: Path, root: Path, expected: list[dict[str, Any]], parallelism: int, name: str
) -> tuple[float, Traffic]:
    """One ``reconciler apply`` of every manifest under ``root`` into an empty product."""
    db = seeded_store(workdir, name, [])
    cmd = [*reconciler_cmd(), "apply", str(root), "--product", PRODUCT, "--auto-approve"]
    cmd.append(f"--parallelism={parallelism}")
    with serve(db) as url, CountingProxy(url, LATENCY_S) as proxy:
        start = time.perf_counter()
        run([*cmd, "--target", proxy.url], env=client_env())
        elapsed = time.perf_counter() - start
        check_holds(url, expected)  # straight to the server: not counted
    if proxy.errors:
        raise CommandFailed(f"the counting proxy saw {proxy.errors} broken exchange(s)")
    return elapsed, proxy.traffic


def _writes_alone_once(workdir: Path, count: int, parallelism: int, name: str) -> float:
    """The same creates as bare PUTs, nothing else, at ``parallelism``, through the same proxy."""
    db = seeded_store(workdir, name, [])
    jobs = [wire_job(i) for i in range(count)]
    with serve(db) as url, CountingProxy(url, LATENCY_S) as proxy:
        client = WireClient(proxy.url)
        try:
            start = time.perf_counter()
            with ThreadPoolExecutor(max_workers=parallelism) as pool:
                statuses = list(pool.map(client.create, jobs))
            elapsed = time.perf_counter() - start
        finally:
            client.close()
        bad = [s for s in statuses if s != 200]
        if bad:
            raise CommandFailed(f"writes alone: {len(bad)} PUT(s) failed (HTTP {bad[0]})")
        check_holds(url, jobs)
    return elapsed


def apply_http(workdir: Path, count: int, repeat: int) -> dict[str, Any]:
    """Apply ``count`` creates at 20 ms a request: parallelism 1 vs the default, the requests
    and bytes of one apply (issue 10), and the same writes alone at the default parallelism."""
    from reconciler.apply import DEFAULT_PARALLELISM

    root = workdir / f"apply-{count}"
    write_manifests(root, count, layout="")
    expected = [wire_job(i) for i in range(count)]
    out: dict[str, Any] = {
        "jobs": count,
        "latency_s": LATENCY_S,
        "parallelism": DEFAULT_PARALLELISM,
    }
    traffic = Traffic()
    for parallelism in (1, DEFAULT_PARALLELISM):
        times = []
        for r in range(repeat):
            elapsed, traffic = _apply_once(
                workdir, root, expected, parallelism, f"apply-p{parallelism}-{r}"
            )
            times.append(elapsed)
        out[f"p{parallelism}_s"] = statistics.median(times)
    out["speedup"] = out["p1_s"] / out[f"p{DEFAULT_PARALLELISM}_s"]
    # The traffic of the last apply at the default parallelism: one apply's requests and bytes.
    out.update(traffic.summary())
    out["writes"] = traffic.requests["job write"]
    alone = [
        _writes_alone_once(workdir, count, DEFAULT_PARALLELISM, f"writes-alone-{r}")
        for r in range(repeat)
    ]
    out["writes_alone_s"] = statistics.median(alone)
    out["apply_vs_writes_alone"] = out[f"p{DEFAULT_PARALLELISM}_s"] / out["writes_alone_s"]
    return out
