"""What the Ductape targets of one run share when they act as one user (products: in
.reconciler.yaml): one log-in, one connection pool, and one read of what the workspace holds
whichever product asks (its product list, an app's actions). Each product's own jobs are
still read once per product, and the reports stay in configuration order.

Counted at real servers on 127.0.0.1: the local server's access log, and a raw server that
counts the connections it accepts and the requests in flight at once. No timing is asserted.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import pytest

from reconciler.errors import TargetError
from reconciler.targets.ductape import Credentials, DuctapeTarget
from reconciler.targets.ductape.auth import shared_logins
from reconciler.targets.ductape.client import open_pools
from testing.cli import invoke
from testing.process import EXAMPLE_SEED
from testing.server import ServerFactory
from testing.wire import (
    CREDS,
    FAST,
    LOGIN_OK,
    PRODUCT,
    USER,
    WORKSPACE,
    access_lines,
    answer,
    envelope,
    raw_server,
    read_request,
)

# Configuration order is not sorted order; "shop" is the seed's own product.
PRODUCTS = ("ops", "shop", "billing")
EXTRA_PRODUCTS = "".join(
    f"  - name: {name}\n    status: private\n    catalogue:\n"
    "      apps:\n        - access_tag: stripe\n          actions: [list_charges]\n"
    "      functions: [retry_failed_charges]\n"
    for name in PRODUCTS
    if name != "shop"
)


def _manifests(product: str) -> str:
    """An action job of the workspace's app stripe, and a function job: both exist."""
    return "".join(
        f"---\nname: {product} {kind}\ntag: {product}_{kind}\nevent_type: {kind}\n"
        f"event_tag: {tag}\nintervals: 1h\nstart_at: 2026-12-01T00:00:00Z\n"
        for kind, tag in (("action", "stripe:list_charges"), ("function", "retry_failed_charges"))
    )


def _repository(root: Path, products: tuple[str, ...], by: str = "name") -> None:
    lines = ["products:"]
    for name in products:
        (root / name).mkdir(parents=True)
        (root / name / "jobs.yaml").write_text(_manifests(name))
        product = name if by == "name" else PRODUCT
        lines.append(f"  {name}: {{paths: [{name}], product: '{product}'}}")
    (root / ".reconciler.yaml").write_text("\n".join(lines) + "\n")


def test_products_of_one_user_read_the_product_list_and_each_app_once(
    ductape_server_factory: ServerFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twenty products named by name made twenty lists of the workspace's products (each
    carrying every product's document) and twice twenty app reads for one app."""
    (tmp_path / "seed.yaml").write_text(EXAMPLE_SEED.read_text() + EXTRA_PRODUCTS)
    server = ductape_server_factory(seed_path=tmp_path / "seed.yaml")
    repo = tmp_path / "repo"
    _repository(repo, PRODUCTS)
    monkeypatch.chdir(repo)
    env = server.client_env()
    del env["DUCTAPE_PRODUCT"]
    with access_lines() as log:
        code, out, err = invoke("plan", "--format", "json", "--detailed-exitcode", env=env)
        log.settle()

    assert code == 2, out + err
    reports = json.loads(out)["products"]
    assert [p["name"] for p in reports] == list(PRODUCTS)
    for p in reports:
        assert p["report"]["summary"]["create"] == 2, p
        # stripe:list_charges was found in the app for each (shop has live jobs of its own)
        assert [q for q in p["report"]["problems"] if q["field"] == "event_tag"] == [], p
    assert log.count("POST", "/login/authKey") == 1, log.lines
    assert log.count("GET", "/integrations/integrations/v1/workspace/") == 1, log.lines
    assert log.count("GET", "/apps/apps/v1/access/") == 1, log.lines
    assert log.count("GET", "/apps/apps/v1/") == 2, log.lines  # the tag, then the app
    # Each product's own document is still read by each product, once.
    assert log.count("GET", "/integrations/integrations/v1/") == 1 + len(PRODUCTS), log.lines
    assert shared_logins() == 0 and open_pools() == 0


class Workspace:
    """A raw Ductape: logs anyone in, lists one product ``p`` (the first list after a pause,
    or refused with a 500 when ``fail_first``), serves it empty; counts connections, lists,
    and the most requests in flight at once."""

    def __init__(self, pause: float = 0.0, fail_first: bool = False) -> None:
        self.pause = pause
        self.fail_first = fail_first
        self.lock = threading.Lock()
        self.connections = 0
        self.lists = 0
        self.now = 0
        self.most = 0

    def __call__(self, conn: socket.socket) -> None:
        with self.lock:
            self.connections += 1
        for _ in range(100):  # keep-alive, bounded
            request = read_request(conn)
            if not request:
                return
            with self.lock:
                self.now += 1
                self.most = max(self.most, self.now)
            try:
                self._answer(conn, request)
            finally:
                with self.lock:
                    self.now -= 1

    def _answer(self, conn: socket.socket, request: bytes) -> None:
        path = request.split(b" ", 2)[1]
        if path.endswith(b"/login/authKey"):
            answer(conn, 201, LOGIN_OK)
        elif b"/workspace/" in path:
            with self.lock:
                self.lists += 1
                first = self.lists == 1
            if first and self.fail_first:
                answer(conn, 500, b'{"status": false, "meta": {}, "errors": "busy"}')
                return
            time.sleep(self.pause)
            answer(conn, 200, envelope([{"_id": PRODUCT, "name": "p"}]))
        else:
            answer(conn, 200, envelope({"_id": PRODUCT, "name": "p", "jobs": []}))


def _target(url: str, creds: Credentials = CREDS, product: str = "p") -> DuctapeTarget:
    return DuctapeTarget(url, creds, product, retry=FAST)


def test_targets_asking_at_once_wait_for_one_list_rather_than_each_sending_it() -> None:
    workspace = Workspace(pause=0.15)
    with raw_server(workspace) as url:
        targets = [_target(url) for _ in range(4)]
        read: list[object] = []
        try:
            threads = [
                threading.Thread(target=lambda t=t: read.append(t.fetch_jobs()), daemon=True)
                for t in targets
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(10)
        finally:
            for target in targets:
                target.close()

    assert len(read) == 4  # every target read its product
    assert workspace.lists == 1
    assert shared_logins() == 0 and open_pools() == 0


def test_a_list_that_failed_is_read_again_by_the_next_target() -> None:
    """An error is not kept for the others: the next to ask reads for itself."""
    workspace = Workspace(fail_first=True)
    with raw_server(workspace) as url:
        first, second = _target(url), _target(url)
        try:
            with pytest.raises(TargetError, match="busy"):
                first.fetch_jobs()
            assert second.fetch_jobs().jobs == ()
        finally:
            first.close()
            second.close()

    assert workspace.lists == 2


def test_the_products_of_a_run_send_through_one_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One product at a time, every target's requests ride one kept-alive connection: each
    target opening its own client opened a connection (a TLS handshake, to the real API)
    per product."""
    names = ("zeta", "alpha", "mid", "beta", "last")
    _repository(tmp_path, names, by="id")
    monkeypatch.chdir(tmp_path)
    workspace = Workspace()
    with raw_server(workspace) as url:
        env = {
            "RECONCILER_TARGET": url,
            "DUCTAPE_USER_ID": USER,
            "DUCTAPE_WORKSPACE_ID": WORKSPACE,
            "DUCTAPE_PRIVATE_KEY": "k",
        }
        code, out, err = invoke(
            "plan", "--format", "json", "--references", "off", "--product-parallelism", "1",
            env=env,
        )  # fmt: skip

    assert code == 0, out + err
    assert [p["name"] for p in json.loads(out)["products"]] == list(names)
    assert workspace.connections == 1
    assert open_pools() == 0


def test_targets_of_other_credentials_never_share_a_connection() -> None:
    other = Credentials(USER, WORKSPACE, private_key="another-key")
    workspace = Workspace()
    with raw_server(workspace) as url:
        targets = [_target(url), _target(url, other), _target(url)]
        try:
            assert open_pools() == 2
            for target in targets:
                target.fetch_jobs()
        finally:
            for target in targets:
                target.close()

    assert workspace.connections == 2  # one for each user; the two of CREDS shared theirs
    assert workspace.lists == 2  # and one product list for each
    assert open_pools() == 0
