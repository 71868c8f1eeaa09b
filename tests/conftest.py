"""Fixtures: real local Ductape servers on 127.0.0.1. Helpers live in the testing package."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from testing.process import TEST_NOW
from testing.server import RunningServer, ServerFactory, login, running_server


@pytest.fixture(autouse=True)
def fixed_now(monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test sees the same "now", whatever the date it runs on (see reconciler.clock).

    Set in the environment, so the CLI run in-process and every subprocess see it too.
    """
    monkeypatch.setenv("RECONCILER_NOW", TEST_NOW)
    return TEST_NOW


@pytest.fixture
def ductape_server_factory(tmp_path: Path) -> Iterator[ServerFactory]:
    """Start servers on demand: ``factory(seed_path=..., max_body_bytes=..., db_path=...)``."""
    with ExitStack() as stack:
        count = 0

        def start(**options: Any) -> RunningServer:
            nonlocal count
            count += 1
            db_path = options.pop("db_path", tmp_path / f"ductape-{count}.db")
            manager: AbstractContextManager[RunningServer] = running_server(db_path, **options)
            return stack.enter_context(manager)

        yield start


@pytest.fixture
def ductape_server(ductape_server_factory: ServerFactory) -> RunningServer:
    """The server seeded from examples/seed.yaml (product "shop")."""
    return ductape_server_factory()


@pytest.fixture
def token(ductape_server: RunningServer) -> str:
    """A token for the seeded user of ``ductape_server``."""
    s = ductape_server
    with httpx.Client(base_url=s.base_url, timeout=10) as client:
        return login(client, s.user_id, s.workspace_id, s.private_key)


@pytest.fixture
def authed(ductape_server: RunningServer, token: str) -> Iterator[httpx.Client]:
    """A client that sends ``token`` as a Bearer token."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=ductape_server.base_url, headers=headers, timeout=10) as c:
        yield c
