"""Who the target acts as, and its log-in, shared by every target of the same credentials.

With ``products:`` in .reconciler.yaml a run opens one target per product, all as the same
user. Each logging in for itself made one log-in per product, and log-ins are rate-limited
per user (the local server allows 30 a minute; Ductape may have a limit too). So the targets
of one base URL and one set of credentials share one log-in within the process: the first
to need a token logs in, the others use it, a refused token is renewed once for all, and
the shared token is forgotten when the last of those targets closes. What the workspace
holds whichever product asks (its product list, an app's actions) is read once for them
all in the same way (:meth:`Session.once`).

The private key is never a key of the registry: a SHA-256 digest of the secrets stands for
it, so two targets with different keys for the same user never share a token.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TypeVar, cast

from ...errors import AuthError, UsageError
from ...strings import is_object_id
from .client import Client

LOG_IN = "/users/users/v1/login/authKey"
T = TypeVar("T")


@dataclass(frozen=True)
class Credentials:
    """Who the target acts as. The key and token never show in a repr."""

    user_id: str
    workspace_id: str
    private_key: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    public_key: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for name in ("user_id", "workspace_id"):
            if not is_object_id(getattr(self, name)):
                raise UsageError(f"{name} must be a 24-character hex id")
        if not self.private_key and not (self.token and self.public_key):
            raise UsageError(
                "Ductape credentials: set DUCTAPE_PRIVATE_KEY, "
                "or DUCTAPE_TOKEN with DUCTAPE_PUBLIC_KEY"
            )

    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.private_key, self.token) if s)

    def digest(self) -> str:
        """Stands for the secrets in a lookup key, without holding them."""
        parts = (self.private_key or "", self.token or "", self.public_key or "")
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()


class _Shared:
    """One log-in: the token and public key, and the lock under which one thread logs in;
    and the answers of the reads that do not depend on the product (:meth:`Session.once`)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pair: tuple[str, str] | None = None  # (auth token, public key)
        self.users = 0
        self.answers: dict[Hashable, object] = {}
        self.reading: dict[Hashable, threading.Lock] = {}


_registry: dict[Hashable, _Shared] = {}
_registry_lock = threading.Lock()


def shared_logins() -> int:
    """How many log-ins are shared now (for tests: each closed target gives its share back)."""
    with _registry_lock:
        return len(_registry)


class Session:
    """A target's share of the log-in for ``(base_url, credentials, scope)``.

    It logs in through the target's own ``client`` when the shared log-in has no token yet
    (or its token was refused). ``scope`` keeps apart targets that reach the same URL by
    different means (a test's own transport).
    """

    def __init__(
        self, client: Client, base_url: str, creds: Credentials, scope: Hashable = None
    ) -> None:
        self._client = client
        self._creds = creds
        self._key = (base_url, creds.user_id, creds.workspace_id, creds.digest(), scope)
        with _registry_lock:
            self._shared = _registry.setdefault(self._key, _Shared())
            self._shared.users += 1
        self._closed = False

    def pair(self) -> tuple[str, str]:
        """The auth token and public key, logging in if nobody has yet."""
        shared = self._shared
        with shared.lock:
            if shared.pair is None:
                shared.pair = self._log_in()
            return shared.pair

    def _log_in(self) -> tuple[str, str]:
        creds = self._creds
        if creds.token and creds.public_key:
            return (creds.token, creds.public_key)
        data = self._client.read(
            "log in",
            "POST",
            LOG_IN,
            auth=None,
            json={
                "private_key": creds.private_key,
                "workspace_id": creds.workspace_id,
                "user_id": creds.user_id,
            },
        )
        if not isinstance(data, dict) or not data.get("auth_token"):
            raise AuthError("Ductape log in: no auth token in the answer")
        return (str(data["auth_token"]), str(data.get("public_key") or ""))

    def token(self) -> str:
        return self.pair()[0]

    def public_key(self) -> str:
        return self.pair()[1]

    def refused(self, token: str) -> bool:
        """After a 401 for ``token``: log in again, once; False when there is no key to."""
        if not self._creds.private_key:
            return False
        shared = self._shared
        with shared.lock:
            if shared.pair is not None and shared.pair[0] == token:
                shared.pair = None  # another target or thread may have renewed it already
        self.pair()
        return True

    def once(self, key: Hashable, read: Callable[[], T]) -> T:
        """``read()``'s answer for ``key``, read once for every target of this log-in.

        For what the workspace holds whichever product asks (its product list, an app's
        actions): with products: in .reconciler.yaml, twenty products asking the same made
        twenty identical round trips. One target reads; one asking meanwhile waits for that
        answer rather than sending the same request. A read that raises is not kept: the
        next to ask reads again (its own retries, its own time limit). The caller keeps
        only what it needs of an answer, never a secret: it lives until the last target of
        the log-in closes.
        """
        shared = self._shared
        with _registry_lock:
            lock = shared.reading.setdefault(key, threading.Lock())
        with lock:
            if key in shared.answers:
                return cast(T, shared.answers[key])
            answer = read()
            shared.answers[key] = answer
            return answer

    def secrets(self) -> tuple[str, ...]:
        """What must never show: the credentials and the current token."""
        pair = self._shared.pair
        return self._creds.secrets() + ((pair[0],) if pair else ())

    def close(self) -> None:
        """Give the share back; the last one out forgets the token."""
        with _registry_lock:
            if self._closed:
                return
            self._closed = True
            self._shared.users -= 1
            if self._shared.users == 0:
                self._shared.pair = None
                if _registry.get(self._key) is self._shared:
                    del _registry[self._key]
