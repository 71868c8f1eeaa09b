"""A real local Ductape server (uvicorn in a thread) over a SQLite file, for tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from reconciler.server import SeedInfo, create_app, load_seed
from reconciler.server.app import REQUEST_SECONDS
from reconciler.targets.store import Store

from .process import EXAMPLE_SEED


@dataclass(frozen=True)
class RunningServer:
    """A server started for a test: where it listens, its database, and the seeded account."""

    base_url: str
    db_path: str
    seed: SeedInfo
    store: Store = field(repr=False)

    @property
    def user_id(self) -> str:
        return self.seed.user_id

    @property
    def workspace_id(self) -> str:
        return self.seed.workspace_id

    @property
    def private_key(self) -> str:
        return self.seed.private_key

    @property
    def public_key(self) -> str:
        return self.seed.public_key

    @property
    def product_id(self) -> str:
        return self.seed.products[0].id

    @property
    def product_name(self) -> str:
        return self.seed.products[0].name

    def client_env(self, **overrides: str) -> dict[str, str]:
        """What a reconciler run needs in its environment to reach this server's product."""
        return {
            "DUCTAPE_USER_ID": self.user_id,
            "DUCTAPE_WORKSPACE_ID": self.workspace_id,
            "DUCTAPE_PRIVATE_KEY": self.private_key,
            "RECONCILER_TARGET": self.base_url,
            "DUCTAPE_PRODUCT": self.product_name,
            "NO_COLOR": "1",
            **overrides,
        }

    def put_jobs(self, jobs: Iterable[Mapping[str, Any]]) -> None:
        """Write jobs (wire form) with the component PUT, as another Ductape client would."""
        with httpx.Client(base_url=self.base_url, timeout=30) as client:
            token = login(client, self.user_id, self.workspace_id, self.private_key)
            for job in jobs:
                body = {
                    "component": "job",
                    **job,
                    "user_id": self.user_id,
                    "workspace_id": self.workspace_id,
                    "public_key": self.public_key,
                }
                answer = client.put(
                    f"/integrations/integrations/v1/{self.product_id}",
                    json=body,
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert answer.status_code < 300, answer.text


@contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """Run an ASGI app under uvicorn on 127.0.0.1 in a thread; yield its base URL."""
    # The socket is bound here and handed over, so no other process can take the port.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@contextmanager
def running_server(
    db_path: str | Path,
    seed_path: str | Path = EXAMPLE_SEED,
    *,
    max_body_bytes: int = 1_000_000,
    body_timeout: float = REQUEST_SECONDS,
    store_factory: Callable[[str], Store] = Store,
) -> Iterator[RunningServer]:
    """A seeded server over the SQLite file ``db_path``, stopped and closed on exit."""
    store = store_factory(str(db_path))
    try:
        info = load_seed(store, str(seed_path))
        app = create_app(store, max_body_bytes=max_body_bytes, body_timeout=body_timeout)
        with serve_app(app) as base_url:
            yield RunningServer(base_url, str(db_path), info, store)
    finally:
        store.close()


ServerFactory = Callable[..., RunningServer]


def login(client: httpx.Client, user_id: str, workspace_id: str, private_key: str) -> str:
    """Log in through the wire; the auth token."""
    response = client.post(
        "/users/users/v1/login/authKey",
        json={"private_key": private_key, "user_id": user_id, "workspace_id": workspace_id},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] is True
    return str(body["data"]["auth_token"])
