"""Where credentials may go: a target from the repository needs an allow-list outside it,
plain http only to loopback, no user:password@ in URLs."""

from __future__ import annotations

import socket

import pytest

from reconciler.errors import UsageError
from reconciler.targets import open_target
from reconciler.targets.ductape import DuctapeTarget
from testing.wire import raw_server

ENV = {
    "DUCTAPE_USER_ID": "a" * 24,
    "DUCTAPE_WORKSPACE_ID": "b" * 24,
    "DUCTAPE_PRIVATE_KEY": "the-key-that-must-stay-home",
}


def opened(spec: str, **options: object) -> DuctapeTarget:
    env = {**ENV, **options.pop("env", {})}  # type: ignore[dict-item]
    target = open_target(spec, "shop", env, **options)  # type: ignore[arg-type]
    assert isinstance(target, DuctapeTarget)
    target.close()
    return target


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8787", "http://127.8.9.10", "http://localhost:1", "http://[::1]:8080"],
)
def test_plain_http_to_loopback_is_allowed(url: str) -> None:
    opened(url)


@pytest.mark.parametrize("url", ["http://ductape.example", "http://10.0.0.1", "http://[::2]"])
def test_plain_http_elsewhere_is_refused_whoever_chose_it(url: str) -> None:
    with pytest.raises(UsageError, match=r"plain http only to this machine.*use https://"):
        open_target(url, "shop", ENV)


def test_user_and_password_in_the_url_are_refused_and_not_shown() -> None:
    with pytest.raises(UsageError) as caught:
        open_target("https://bob:hunter2@api.ductape.app", "shop", ENV)
    assert "remove user:password@" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_a_repository_file_cannot_send_the_key_elsewhere() -> None:
    """The key-redirect case: a capture server named by .reconciler.yaml gets nothing."""
    received: list[bytes] = []

    def capture(conn: socket.socket) -> None:
        received.append(conn.recv(65536))

    with raw_server(capture) as url:
        with pytest.raises(UsageError) as caught:
            open_target(url, "shop", ENV, origin="config")
        message = str(caught.value)
        assert message == (
            f"target {url} comes from .reconciler.yaml and is not allowed to receive "
            "credentials; pass it with --target or RECONCILER_TARGET, or list it in "
            "RECONCILER_ALLOWED_TARGETS"
        )
        # Allowed from outside the repository, it is used.
        allowed = f"https://x:bad-port, https://x.test, {url}/"
        opened(url, origin="config", env={"RECONCILER_ALLOWED_TARGETS": allowed})
        opened(url, origin="option")
    assert received == []  # opening sends nothing; the refused one never logged in


def test_ductape_itself_is_allowed_by_default_from_a_file() -> None:
    opened("https://api.ductape.app", origin="config")
    opened("https://API.ductape.app:443/", origin="config")
    with pytest.raises(UsageError, match="not allowed to receive credentials"):
        opened("https://api.ductape.app.evil.test", origin="config")


def test_the_run_timeout_reaches_the_target() -> None:
    target = opened("http://127.0.0.1:9", timeout=12.5)
    assert target._timeout == 12.5
