"""The HTTP session to Ductape: one httpx.Client, bounded retries, the envelope, our errors.

The only module of the project that imports httpx (and httpcore, beneath it). What it
knows of the wire is what every call shares (docs/wire.md): the ``{status, meta, data}``
envelope, the two spellings of the Authorization header, and which answers mean "try
again". What a call means (a log-in, a product read, a job's PUT) is the caller's.

When a failed request is sent again is a parameter of the call (:class:`Repeat`), chosen
by what repeating it could do: a read or a log-in changes nothing; a create must never be
sent twice blindly (Ductape has no delete to undo a duplicate); an update sets fields to
values, so sending it again is safe once a read shows it has not landed.
"""

from __future__ import annotations

import email.utils
import json
import math
import random
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, NamedTuple, Protocol

import httpcore
import httpx

from ...errors import AuthError, TargetError
from ...strings import shorten
from .deadline import Budget, RequestDeadlines

# The largest answer read: a product of 100,000 jobs is about 20 MB; past this a server is
# taken to be broken or hostile rather than left to fill memory.
MAX_ANSWER_BYTES = 64 * 1024 * 1024
# What a test may put in place of the network (for a fault no server can make).
Transport = httpx.BaseTransport


class Request(NamedTuple):
    """One call as sent: its name in messages, the method and path, query and body."""

    operation: str
    method: str
    path: str
    params: Mapping[str, str] | None
    body: Mapping[str, Any] | None


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries: exponential backoff with full jitter, a cap on count and on time.

    ``request_timeout`` is the total time one request may take, first byte to last;
    ``confirm_window`` is how long a write whose answer was lost is looked for (reads may
    lag writes) before it is reported as an unknown outcome.

    ``not_applied`` are the statuses after which a request surely did nothing (so even a
    create may be sent again); ``maybe_applied`` those after which it may or may not have
    landed (a proxy in front of a busy or restarting service). A refused connection counts
    as not applied; a timeout or a connection lost mid-request as maybe applied. Any other
    status is an answer, and final.
    """

    attempts: int = 6
    base: float = 0.2
    cap: float = 5.0
    budget: float = 60.0
    request_timeout: float = 30.0
    confirm_window: float = 10.0
    not_applied: frozenset[int] = frozenset({429})
    maybe_applied: frozenset[int] = frozenset({502, 503, 504})

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        return random.uniform(0, min(self.cap, self.base * 2**attempt))


class Repeat(Enum):
    """When a request that failed without a final answer is sent again."""

    ALWAYS = "always"
    """A read or a log-in: sending it again changes nothing."""
    IF_NOT_APPLIED = "if-not-applied"
    """A create: only after a failure that surely did nothing; after one that may have
    landed, the failure goes back to the caller (who looks for the job)."""
    UNLESS_LANDED = "unless-landed"
    """An idempotent write (an update): after a failure that may have landed, sent again
    only if the caller's ``landed()`` says it has not."""


@dataclass(frozen=True)
class Failure:
    """An attempt that got no final answer: why, and whether it may have reached Ductape."""

    reason: str
    maybe_applied: bool
    retry_after: float | None = None
    cause: BaseException | None = None


@dataclass(frozen=True)
class _Refused:
    """A 401 to a request sent with a token: the session decides whether to log in again."""

    line: str


class Auth(Protocol):
    """Where a call's token comes from (see auth.py)."""

    def token(self) -> str: ...

    def refused(self, token: str) -> bool:
        """``token`` got a 401: log in again and say True, or False if there is no key to."""
        ...


class _Pool:
    """One httpx.Client (its connection pool, its TLS context) and the request deadlines its
    connections obey, shared by the :class:`Client` objects of one key."""

    def __init__(self, base_url: str, transport: Transport | None, per_request: float) -> None:
        self.deadlines = RequestDeadlines()
        self.http = httpx.Client(
            base_url=base_url,
            timeout=httpx.Timeout(per_request, connect=min(per_request, 10.0)),
            transport=transport,
            headers={"User-Agent": "reconciler"},
        )
        _add_deadlines(self.http, self.deadlines)
        self.users = 0


# Building an httpx.Client builds a TLS context (the CA bundle parsed: tens of ms of CPU,
# under the GIL), and each client opens its own connections (a TCP and TLS handshake, round
# trips to a far-away API). With products: in .reconciler.yaml a run opens one target per
# product, all to one API as one user: they share one client, the last one out closes it.
_pools: dict[Hashable, _Pool] = {}
_pools_lock = threading.Lock()


def open_pools() -> int:
    """How many shared httpx clients are open now (for tests: each Client gives its back)."""
    with _pools_lock:
        return len(_pools)


class Client:
    """Requests to ``base_url``, every one bounded by ``policy`` and ``budget``.

    Clients of the same ``share`` key (None: a client of its own) send through one
    httpx.Client: one connection pool, one TLS context, one cookie jar. The caller keys it
    by who the requests act as, so nothing one user's session receives rides on another's.
    ``secrets()`` names what to mask if a server echoes it in an error message.
    """

    def __init__(
        self,
        base_url: str,
        policy: RetryPolicy,
        budget: Budget,
        *,
        secrets: Callable[[], Iterable[str]],
        transport: Transport | None = None,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
        share: Hashable = None,
    ) -> None:
        self.policy = policy
        self.budget = budget
        self._secrets = secrets
        self._max_answer = max_answer_bytes
        per_request = policy.request_timeout
        # A test's own transport is a different way to the same URL: never shared across.
        way = None if transport is None else id(transport)
        self._key = (base_url, way, per_request, share) if share is not None else object()
        with _pools_lock:
            pool = _pools.get(self._key)
            if pool is None:
                pool = _pools[self._key] = _Pool(base_url, transport, per_request)
            pool.users += 1
        self._pool: _Pool | None = pool
        self._http = pool.http
        self._deadlines = pool.deadlines

    def close(self) -> None:
        """Give the shared client back; the last one out closes it."""
        with _pools_lock:
            pool, self._pool = self._pool, None
            if pool is None:
                return
            pool.users -= 1
            if pool.users > 0:
                return
            if _pools.get(self._key) is pool:
                del _pools[self._key]
        pool.http.close()

    def read(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        auth: Auth | None,
        params: Mapping[str, str] | None = None,
        json: Mapping[str, Any] | None = None,
    ) -> Any:
        """A read (or the log-in): the envelope's data, sent again after any failure."""
        request = Request(operation, method, path, params, json)
        return self._repeating(operation, lambda: self._send(request, auth))

    def write(
        self,
        operation: str,
        path: str,
        body: Mapping[str, Any],
        *,
        auth: Auth,
        repeat: Repeat,
        landed: Callable[[], bool] | None = None,
    ) -> Failure | None:
        """A PUT, sent again as ``repeat`` allows. None once it is known to have landed
        (answered, or ``landed()`` found it); with ``IF_NOT_APPLIED``, the failure after
        which it may have landed."""
        outcome = self._repeating(
            operation,
            lambda: self._send(Request(operation, "PUT", path, None, body), auth),
            repeat,
            landed,
        )
        return outcome if isinstance(outcome, Failure) else None

    # --- the retry loop ------------------------------------------------------------------

    def _repeating(
        self,
        operation: str,
        attempt: Callable[[], Any],
        repeat: Repeat = Repeat.ALWAYS,
        landed: Callable[[], bool] | None = None,
    ) -> Any:
        policy = self.policy
        deadline = self.budget.until(policy.budget)
        last: Failure | None = None
        note = ""
        for number in range(policy.attempts):
            outcome = attempt()
            if not isinstance(outcome, Failure):
                return outcome
            last = outcome
            if outcome.maybe_applied:
                if repeat is Repeat.IF_NOT_APPLIED:
                    return outcome
                if repeat is Repeat.UNLESS_LANDED and landed is not None and landed():
                    return None
            if number + 1 >= policy.attempts:
                break
            pause = policy.delay(number, outcome.retry_after)
            if time.monotonic() + pause > deadline:
                if outcome.retry_after is not None:
                    note = f"; the server asked to wait {outcome.retry_after:g}s, past the limit"
                break
            time.sleep(pause)
        reason = last.reason if last is not None else ""
        cause = last.cause if last is not None else None
        raise TargetError(f"Ductape {operation}: gave up after retries ({reason}{note})") from cause

    # --- one request ---------------------------------------------------------------------

    def _send(self, request: Request, auth: Auth | None) -> Any:
        """One request, and after a 401 on a key's session one more after a fresh log-in:
        the envelope's data, or a Failure worth another try."""
        if auth is None:
            return self._attempt(request, None)
        token = auth.token()
        outcome = self._attempt(request, token)
        if not isinstance(outcome, _Refused):
            return outcome
        if not auth.refused(token):
            raise AuthError(
                f"{outcome.line}; the DUCTAPE_TOKEN was refused: it has expired or was "
                "revoked; set a fresh one, or DUCTAPE_PRIVATE_KEY to log in"
            )
        outcome = self._attempt(request, auth.token())
        if isinstance(outcome, _Refused):
            raise AuthError(outcome.line)
        return outcome

    def _attempt(self, request: Request, token: str | None) -> Any:
        """One request: the envelope's data, a Failure, a _Refused, or one of our errors."""
        operation, method, path, params, body = request
        if self.budget.passed():
            raise self.budget.exceeded(operation)
        headers = {}
        if token is not None:
            # The workspace service takes the bare token; the others take a Bearer token.
            headers["Authorization"] = token if "/workspaces/" in path else f"Bearer {token}"
        try:
            with self._deadlines.running(self.budget.until(self.policy.request_timeout)):
                fetched = self._fetch(method, path, headers, params, body)
        except httpx.ConnectError as exc:
            return Failure(f"connection failed ({type(exc).__name__})", False, cause=exc)
        except httpx.TimeoutException as exc:
            if self.budget.passed():
                raise self.budget.exceeded(operation) from exc
            return Failure(f"timed out ({type(exc).__name__})", True, cause=exc)
        except httpx.TransportError as exc:
            return Failure(f"connection failed ({type(exc).__name__})", True, cause=exc)
        if fetched is None:
            raise TargetError(
                f"Ductape {operation}: the answer is larger than {self._max_answer:,} bytes"
            )
        response, content = fetched
        return self._decode(operation, response, content, token)

    def _decode(
        self, operation: str, response: httpx.Response, content: bytes, token: str | None
    ) -> Any:
        status = response.status_code
        policy = self.policy
        if status in policy.not_applied or status in policy.maybe_applied:
            retry_after = _retry_after(response.headers.get("Retry-After"))
            return Failure(f"HTTP {status}", status in policy.maybe_applied, retry_after)
        try:
            body = json.loads(content)
        except (ValueError, RecursionError):
            body = None
        if response.is_success and isinstance(body, dict) and body.get("status") is not False:
            return body.get("data")
        if response.is_success:
            raise TargetError(f"Ductape {operation}: the answer is not a JSON envelope")
        message = body.get("errors") if isinstance(body, dict) else None
        text = self._scrub(str(message or response.reason_phrase or "no message"))
        line = f"Ductape {status}: {text} ({operation})"
        if status == 401 and token is not None:
            return _Refused(line)
        if status in (401, 403):
            raise AuthError(line)
        raise TargetError(line)

    def _fetch(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        params: Mapping[str, str] | None,
        body: Mapping[str, Any] | None,
    ) -> tuple[httpx.Response, bytes] | None:
        """The response and its body; None for one past the answer size limit (the rest is
        not read)."""
        with self._http.stream(method, path, headers=headers, params=params, json=body) as answer:
            declared = answer.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > self._max_answer:
                return None
            chunks, size = [], 0
            for chunk in answer.iter_bytes():
                size += len(chunk)
                if size > self._max_answer:
                    return None
                chunks.append(chunk)
        return answer, b"".join(chunks)

    def _scrub(self, text: str) -> str:
        """One line, cut short, escapes shown, any credential the server echoed masked."""
        # Longest first: a short secret inside a longer one must not break the longer's mask.
        for secret in sorted((s for s in self._secrets() if s), key=len, reverse=True):
            text = text.replace(secret, "***")
        return shorten(text)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (a number or an HTTP date); None if unusable."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        seconds = when.timestamp() - time.time()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


# --- the request deadline in httpx's connections -----------------------------------------
#
# httpx offers no way to pass a network backend, and builds its connection pools itself (one
# per proxy the environment names, HTTP(S)_PROXY and NO_PROXY included). Building the pools
# here instead would mean re-implementing httpx's proxy selection and its transport, so the
# backend each pool keeps (one attribute, read at each new connection) is wrapped: the one
# place the project reaches inside httpx. A moved attribute fails loudly, and
# tests/test_hostile_servers.py's deadline and proxy tests go red.


def _clamp(
    deadlines: RequestDeadlines, timeout: float | None, error: type[Exception]
) -> float | None:
    left = deadlines.left()
    if left is None:
        return timeout
    if left <= 0:
        raise error("the request's deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, deadlines: RequestDeadlines) -> None:
        self._inner = inner
        self._deadlines = deadlines

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clamp(self._deadlines, timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _clamp(self._deadlines, timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        clamped = _clamp(self._deadlines, timeout, httpcore.ConnectTimeout)
        inner = self._inner.start_tls(ssl_context, server_hostname, clamped)
        return _DeadlineStream(inner, self._deadlines)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend, deadlines: RequestDeadlines) -> None:
        self._inner = inner
        self._deadlines = deadlines

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        clamped = _clamp(self._deadlines, timeout, httpcore.ConnectTimeout)
        stream = self._inner.connect_tcp(host, port, clamped, local_address, socket_options)
        return _DeadlineStream(stream, self._deadlines)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        clamped = _clamp(self._deadlines, timeout, httpcore.ConnectTimeout)
        stream = self._inner.connect_unix_socket(path, clamped, socket_options)
        return _DeadlineStream(stream, self._deadlines)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _add_deadlines(client: httpx.Client, deadlines: RequestDeadlines) -> None:
    """Clamp every connection of ``client`` (direct, or through an environment proxy) to
    the deadline of the request on its thread. Only transports httpx built are touched."""
    for transport in [client._transport, *client._mounts.values()]:
        if not isinstance(transport, httpx.HTTPTransport):
            continue
        pool = transport._pool
        inner = getattr(pool, "_network_backend", None)
        if not isinstance(inner, httpcore.NetworkBackend):  # pragma: no cover - httpcore moved
            raise RuntimeError("httpcore's connection pool has no network backend to wrap")
        if not isinstance(inner, _DeadlineBackend):
            pool._network_backend = _DeadlineBackend(inner, deadlines)
