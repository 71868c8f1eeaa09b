"""The Ductape target: the product's jobs over Ductape's HTTP wire. The only httpx user.

The wire is described in ``shared/ductape-wire.md`` section 2 and its documents in
``wire.py``. Jobs have no endpoint of their own: they are read from the product document and
written with the product's component PUT, whose answer carries nothing we rely on.

Cost: a run reads the product once (the plan's read, which also gives every job's ``_id``),
sends one PUT per write, and reads the product once more at the end to confirm every write
(:meth:`DuctapeTarget.confirm`). The only other reads are the safety re-reads after an answer
was lost.

Time: every request has a total deadline (``RetryPolicy.request_timeout``), enforced on each
socket operation, so a server trickling a byte every few seconds cannot hold a request past
it; the run's own deadline (``timeout``) bounds every request, retry and wait after it.

Secrets (the private key, the auth token, the product's own keys) are sent where the wire
needs them and never kept in messages, reprs or logs.
"""

from __future__ import annotations

import difflib
import email.utils
import json
import math
import random
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

import httpcore
import httpx

from ..errors import AuthError, OutcomeUnknown, TargetError, UsageError
from ..model import Job
from ..snapshot import Catalogue as SavedCatalogue
from ..snapshot import Source
from ..strings import is_object_id, shorten
from .base import CallsInFlight, Catalogue, LiveJobs, WriteResult
from .wire import (
    CatalogueTags,
    app_action_tags,
    catalogue,
    catalogue_tags,
    confirm_written,
    job_documents,
    job_from_wire,
    job_ids,
    live_jobs,
)

T = TypeVar("T")
# Answers after which the request surely did nothing: retrying cannot duplicate.
NOT_APPLIED_STATUSES = frozenset({429})
# The largest answer read: a product of 100,000 jobs is about 20 MB; past this a server is
# taken to be broken or hostile rather than left to fill memory.
MAX_ANSWER_BYTES = 64 * 1024 * 1024
# Answers after which a write may or may not have landed (a proxy in front of a busy or
# restarting service): a create is looked for before anything else.
MAYBE_APPLIED_STATUSES = frozenset({502, 503, 504})


class DeadlineExceeded(TargetError):
    """The run's time limit (``--timeout``) passed; nothing more was started."""


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


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries: exponential backoff with full jitter, a cap on count and on time.

    ``request_timeout`` is the total time one request may take, first byte to last;
    ``confirm_window`` is how long a create whose answer was lost is looked for (reads may lag
    writes) before it is reported as an unknown outcome.
    """

    attempts: int = 6
    base: float = 0.2
    cap: float = 5.0
    budget: float = 60.0
    request_timeout: float = 30.0
    confirm_window: float = 10.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        return random.uniform(0, min(self.cap, self.base * 2**attempt))


class _Retryable(Exception):
    """A failure worth another try, where the request may have reached the service."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class _NotSent(_Retryable):
    """A failure after which the request surely did nothing (no connection, or 429)."""


# --- a total deadline per request ------------------------------------------------------------
#
# httpx's timeouts apply to each socket operation, so a server that sends one byte just
# before each read times out holds a request forever. The deadline of the request running on
# this thread clamps every connect, read and write of its connection instead.

_deadline = threading.local()


def _clamp(timeout: float | None, error: type[Exception]) -> float | None:
    end: float | None = getattr(_deadline, "end", None)
    if end is None:
        return timeout
    left = end - time.monotonic()
    if left <= 0:
        raise error("the request's deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(
            ssl_context, server_hostname, _clamp(timeout, httpcore.ConnectTimeout)
        )
        return _DeadlineStream(inner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(
            host, port, _clamp(timeout, httpcore.ConnectTimeout), local_address, socket_options
        )
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_unix_socket(
            path, _clamp(timeout, httpcore.ConnectTimeout), socket_options
        )
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _add_deadlines(client: httpx.Client) -> None:
    """Clamp every connection of ``client`` (direct, or through an environment proxy) to
    the deadline of the request on its thread."""
    # httpx builds its connection pools itself (one per proxy the environment names) and
    # offers no way to pass a network backend; each pool keeps it in one attribute, read
    # at each new connection. Only transports httpx built are touched.
    transports = [client._transport, *client._mounts.values()]
    for transport in transports:
        if not isinstance(transport, httpx.HTTPTransport):
            continue
        pool = transport._pool
        inner = getattr(pool, "_network_backend", None)
        if not isinstance(inner, httpcore.NetworkBackend):  # pragma: no cover - httpcore moved
            raise RuntimeError("httpcore's connection pool has no network backend to wrap")
        if not isinstance(inner, _DeadlineBackend):
            pool._network_backend = _DeadlineBackend(inner)


class DuctapeTarget:
    """A Ductape product's jobs, by product id or name, over one httpx.Client."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        product: str,
        *,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        transport: httpx.BaseTransport | None = None,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        if not product:
            raise UsageError("name the Ductape product with --product or DUCTAPE_PRODUCT")
        url = httpx.URL(base_url)
        if url.userinfo:
            # httpx would send these as Basic auth in place of the token, to a host that may
            # log them: refused rather than stripped, so the mistake is seen.
            raise UsageError("the target URL must not carry user:password@; remove it")
        self.base_url = base_url.rstrip("/")
        self.product = product
        self._creds = credentials
        self._retry = retry or RetryPolicy()
        self._timeout = timeout
        self._max_answer = max_answer_bytes
        self._run_end = time.monotonic() + timeout if timeout is not None else None
        per_request = self._retry.request_timeout
        self._client = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(per_request, connect=min(per_request, 10.0)),
            transport=transport,
            headers={"User-Agent": "reconciler"},
        )
        _add_deadlines(self._client)
        self._login_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._session: tuple[str, str] | None = None  # (auth token, public key)
        self._product_id: str | None = None
        # From the last product read: job documents by tag (jobs hold no secrets), their
        # _ids, the catalogue's tags and the product's name. Nothing else of it is kept.
        self._jobs: dict[str, Mapping[str, Any]] = {}
        self._ids: dict[str, str] = {}
        self._tags: CatalogueTags | None = None
        self._name: str | None = None  # the product's name, for snapshots
        self._calls = CallsInFlight(self._client.close)

    def describe(self) -> str:
        return f"{self.base_url} (product {self.product})"

    def close(self) -> None:
        """Close the client now, or as the last call in flight returns (a worker still in a
        request after an interrupt keeps its connection until it is done)."""
        self._calls.close()

    # --- the session ---------------------------------------------------------------------

    def _login(self) -> tuple[str, str]:
        with self._login_lock:
            if self._session is None:
                creds = self._creds
                if creds.token and creds.public_key:
                    self._session = (creds.token, creds.public_key)
                else:
                    data = self._call(
                        "log in",
                        "POST",
                        "/users/users/v1/login/authKey",
                        json={
                            "private_key": creds.private_key,
                            "workspace_id": creds.workspace_id,
                            "user_id": creds.user_id,
                        },
                        auth=False,
                    )
                    if not isinstance(data, dict) or not data.get("auth_token"):
                        raise AuthError("Ductape log in: no auth token in the answer")
                    self._session = (str(data["auth_token"]), str(data.get("public_key") or ""))
            return self._session

    def _refresh(self, refused: str) -> bool:
        """After a 401 for ``refused``: log in again, once; False when there is no key to."""
        if not self._creds.private_key:
            return False
        with self._login_lock:
            if self._session is not None and self._session[0] == refused:
                self._session = None  # another thread may have refreshed it already
        self._login()
        return True

    def _query(self) -> dict[str, str]:
        _, public_key = self._login()
        return {"user_id": self._creds.user_id, "public_key": public_key}

    def _resolve_product(self) -> str:
        if self._product_id is None:
            if is_object_id(self.product):
                self._product_id = self.product
            else:
                ws = self._creds.workspace_id
                products = self._call(
                    "list products",
                    "GET",
                    f"/integrations/integrations/v1/workspace/{ws}/all",
                    params=self._query(),
                )
                # A listed product without a proper _id could address any path: not one.
                listed = [
                    p for p in products or () if isinstance(p, dict) and is_object_id(p.get("_id"))
                ]
                matches = [p["_id"] for p in listed if p.get("name") == self.product]
                if not matches:
                    names = [str(p["name"]) for p in listed if isinstance(p.get("name"), str)]
                    close = difflib.get_close_matches(self.product, names, n=3, cutoff=0.6)
                    hint = (
                        "; did you mean " + ", ".join(shorten(n, 60) for n in close) + "?"
                        if close
                        else ""
                    )
                    raise TargetError(
                        f"no product named {shorten(self.product, 60)!r} in the workspace{hint}"
                    )
                if len(matches) > 1:
                    raise TargetError(
                        f"{len(matches)} products are named {shorten(self.product, 60)!r}; "
                        "use its id"
                    )
                self._product_id = str(matches[0])
        return self._product_id

    def _read_jobs(self) -> list[object]:
        """One read of the product; keeps its jobs, their ids and the catalogue's tags."""
        product_id = self._resolve_product()
        params = {"workspace_id": self._creds.workspace_id, **self._query()}
        product = self._call(
            "read product", "GET", f"/integrations/integrations/v1/{product_id}", params=params
        )
        if not isinstance(product, dict):
            raise TargetError("Ductape read product: the answer is not a product")
        docs = job_documents(product)
        jobs: dict[str, Mapping[str, Any]] = {
            d["tag"]: d for d in docs if isinstance(d, dict) and isinstance(d.get("tag"), str)
        }
        name = product.get("name")
        with self._state_lock:
            self._tags = catalogue_tags(product)
            self._name = name if isinstance(name, str) else None
            self._jobs = jobs
            self._ids = job_ids(docs)
        return docs

    # --- the four operations -------------------------------------------------------------

    def fetch_jobs(self) -> LiveJobs:
        with self._calls.call():
            return live_jobs(self._read_jobs())

    def fetch_job(self, tag: str) -> Job | None:
        """The live job with ``tag``, from a fresh read of the product."""
        with self._calls.call():
            self._read_jobs()
        with self._state_lock:
            doc = self._jobs.get(tag)
        return job_from_wire(doc) if doc is not None else None

    def create_job(self, job: Job) -> WriteResult:
        """Create. After an answer that may have been lost, look for the job for a bounded
        time; still absent is OutcomeUnknown, never a blind second create (no delete exists
        to undo a duplicate)."""
        with self._calls.call():
            return self._create_job(job)

    def _create_job(self, job: Job) -> WriteResult:
        operation = f"create job {shorten(job.tag, 80)}"
        body = {"component": "job", **job.to_wire(), **self._envelope()}
        try:
            self._put_until_sent(operation, body)
        except _Retryable as exc:
            found = self._look_for(job.tag)
            if found is None:
                raise OutcomeUnknown(
                    f"Ductape {operation}: {exc}, and the job did not appear within "
                    f"{self._retry.confirm_window:g}s; outcome unknown; re-run plan"
                ) from exc
        with self._state_lock:
            job_id = self._ids.get(job.tag, "")
        return WriteResult(job, job_id)

    def update_job(self, tag: str, changes: Mapping[str, Any]) -> WriteResult:
        """Update by the ``_id`` the plan's read gave; setting fields to values is idempotent,
        so after a lost answer it is re-read and, if not yet as sent, sent again."""
        with self._calls.call():
            return self._update_job(tag, changes)

    def _update_job(self, tag: str, changes: Mapping[str, Any]) -> WriteResult:
        operation = f"update job {shorten(tag, 80)}"
        with self._state_lock:
            job_id, live = self._ids.get(tag), self._jobs.get(tag)
        if job_id is None or live is None:
            self.fetch_job(tag)  # a target used without a plan's read first
            with self._state_lock:
                job_id, live = self._ids.get(tag), self._jobs.get(tag)
        if job_id is None or live is None:
            raise TargetError(f"Ductape {operation}: no live job with that tag")
        try:
            expected = Job.from_mapping({**live, **changes})
        except ValueError as exc:
            raise TargetError(f"Ductape {operation}: {shorten(str(exc))}") from exc
        body = {"component": "job", **dict(changes), "_id": job_id, **self._envelope()}
        self._retrying(operation, lambda _: self._update_once(operation, body, tag, expected))
        return WriteResult(expected, job_id)

    def _update_once(
        self, operation: str, body: Mapping[str, Any], tag: str, expected: Job
    ) -> None:
        try:
            self._put(operation, body)
        except _NotSent:
            raise
        except _Retryable:
            if self.fetch_job(tag) == expected:  # the lost answer's write did land
                return
            raise

    def confirm(
        self, written: Sequence[WriteResult], *, wait: bool = True
    ) -> dict[str, WriteResult | TargetError]:
        """One read after the writes: each written job present once and equal to what was
        sent. Reads may lag writes, for an update as for a create: a job absent or not yet
        as sent is looked for again within the confirm window (``wait``), and one still not
        confirmed at its end is an unknown outcome, never a failure."""
        if not written:
            return {}
        with self._calls.call():
            return self._confirm(written, wait)

    def _confirm(
        self, written: Sequence[WriteResult], wait: bool
    ) -> dict[str, WriteResult | TargetError]:
        end = self._until(self._retry.confirm_window)
        attempt = 0
        while True:
            try:
                out = confirm_written(written, self._read_jobs())
            except TargetError as exc:
                return {
                    w.job.tag: OutcomeUnknown(
                        f"written, but could not be confirmed ({exc}); re-run plan"
                    )
                    for w in written
                }
            if all(isinstance(r, WriteResult) for r in out.values()):
                return out
            pause = self._retry.delay(attempt, None)
            if not wait or time.monotonic() + pause > end:
                return {tag: _unconfirmed(r, self._retry.confirm_window) for tag, r in out.items()}
            time.sleep(pause)
            attempt += 1

    def catalogue(self, apps: Collection[str] | None = None) -> Catalogue | None:
        """Event tags of the product; an app's actions come from the apps service, two
        requests an app, so only the apps in ``apps`` are read (None: all)."""
        with self._calls.call():
            return self._catalogue(apps)

    def _catalogue(self, apps: Collection[str] | None) -> Catalogue | None:
        with self._state_lock:
            tags = self._tags
        if tags is None:
            self._read_jobs()
            with self._state_lock:
                tags = self._tags
        if tags is None:
            return None
        return catalogue(tags, self._app_actions(tags, apps))

    def _app_actions(
        self, tags: CatalogueTags, apps: Collection[str] | None
    ) -> dict[str, list[str]]:
        ws = self._creds.workspace_id
        actions: dict[str, list[str]] = {}
        for tag in tags["apps"]:
            if apps is not None and tag not in apps:
                continue
            found = self._call(
                f"read app {shorten(tag, 80)}",
                "GET",
                # The tag comes from the server: quoted, so it stays one path segment.
                f"/apps/apps/v1/access/{ws}/{quote(tag, safe='')}",
                params=self._query(),
            )
            app_id = found.get("_id") if isinstance(found, dict) else None
            if is_object_id(app_id):
                app = self._call(
                    f"read app {shorten(tag, 80)}",
                    "GET",
                    f"/apps/apps/v1/{app_id}",
                    params=self._query(),
                )
                actions[tag] = app_action_tags(app)
        return actions

    def snapshot_source(self) -> Source:
        """What ``reconciler snapshot`` keeps: one read of the product, and every app's
        actions (two requests an app). The job documents go on as read; the snapshot module
        keeps only their job fields."""
        docs = self._read_jobs()
        with self._state_lock:
            tags, name = self._tags, self._name
        saved = None
        if tags is not None:
            saved = SavedCatalogue.of(tags, self._app_actions(tags, None))
        return Source(self._resolve_product(), name or self.product, docs, saved)

    # --- plumbing ------------------------------------------------------------------------

    def _envelope(self) -> dict[str, str]:
        _, public_key = self._login()
        return {
            "user_id": self._creds.user_id,
            "workspace_id": self._creds.workspace_id,
            "public_key": public_key,
        }

    def _put(self, operation: str, body: Mapping[str, Any]) -> Any:
        product_id = self._resolve_product()
        return self._send(
            operation, "PUT", f"/integrations/integrations/v1/{product_id}", json=body
        )

    def _put_until_sent(self, operation: str, body: Mapping[str, Any]) -> Any:
        """The PUT, retried only while it surely did nothing; _Retryable when it may have."""

        def once(_: bool) -> Any:
            try:
                return self._put(operation, body)
            except _NotSent:
                raise
            except _Retryable as exc:
                raise _MaybeApplied(str(exc)) from exc

        try:
            return self._retrying(operation, once)
        except _MaybeApplied as exc:
            raise _Retryable(str(exc)) from exc

    def _look_for(self, tag: str) -> Job | None:
        """Re-read with backoff until ``tag`` is live or the confirm window ends."""
        end = self._until(self._retry.confirm_window)
        attempt = 0
        while True:
            try:
                found = self.fetch_job(tag)
            except DeadlineExceeded:
                return None
            except TargetError:
                found = None
            if found is not None:
                return found
            pause = self._retry.delay(attempt, None)
            if time.monotonic() + pause > end:
                return None
            time.sleep(pause)
            attempt += 1

    def _until(self, seconds: float) -> float:
        end = time.monotonic() + seconds
        return min(end, self._run_end) if self._run_end is not None else end

    def _retrying(self, operation: str, step: Callable[[bool], T]) -> T:
        deadline = self._until(self._retry.budget)
        last = ""
        for attempt in range(self._retry.attempts):
            try:
                return step(attempt > 0)
            except _Retryable as exc:
                last = str(exc)
                pause = self._retry.delay(attempt, exc.retry_after)
                if attempt + 1 >= self._retry.attempts:
                    break
                if time.monotonic() + pause > deadline:
                    if exc.retry_after is not None:
                        last += f"; the server asked to wait {exc.retry_after:g}s, past the limit"
                    break
                time.sleep(pause)
        raise TargetError(f"Ductape {operation}: gave up after retries ({last})")

    def _call(self, operation: str, method: str, path: str, **kwargs: Any) -> Any:
        """A read (or login): retried on its own, since repeating it changes nothing."""
        return self._retrying(operation, lambda _: self._send(operation, method, path, **kwargs))

    def _send(
        self, operation: str, method: str, path: str, *, auth: bool = True, **kwargs: Any
    ) -> Any:
        """One request (and, after a 401 on a key's session, one more after a fresh login)."""
        if not auth:
            return self._request(operation, method, path, None, **kwargs)
        token, _ = self._login()
        try:
            return self._request(operation, method, path, token, **kwargs)
        except _Unauthorized as exc:
            if not self._refresh(token):
                raise AuthError(
                    f"{exc}; the DUCTAPE_TOKEN was refused: it has expired or was revoked; "
                    "set a fresh one, or DUCTAPE_PRIVATE_KEY to log in"
                ) from exc
        token, _ = self._login()
        try:
            return self._request(operation, method, path, token, **kwargs)
        except _Unauthorized as exc:
            raise AuthError(str(exc)) from exc

    def _request(
        self, operation: str, method: str, path: str, token: str | None, **kwargs: Any
    ) -> Any:
        """One request; the envelope's data, or a TargetError/AuthError/_Retryable."""
        now = time.monotonic()
        if self._run_end is not None and now >= self._run_end:
            raise DeadlineExceeded(
                f"Ductape {operation}: the run's time limit of {self._timeout:g}s is up"
            )
        end = now + self._retry.request_timeout
        _deadline.end = min(end, self._run_end) if self._run_end is not None else end
        headers = {}
        if token is not None:
            # The workspace service takes the bare token; the others take a Bearer token.
            headers["Authorization"] = token if "/workspaces/" in path else f"Bearer {token}"
        try:
            response, content = self._fetch(method, path, headers, kwargs)
        except _TooLarge as exc:
            raise TargetError(
                f"Ductape {operation}: the answer is larger than {self._max_answer:,} bytes"
            ) from exc
        except httpx.ConnectError as exc:
            raise _NotSent(f"connection failed ({type(exc).__name__})") from exc
        except httpx.TimeoutException as exc:
            if self._run_end is not None and time.monotonic() >= self._run_end:
                raise DeadlineExceeded(
                    f"Ductape {operation}: the run's time limit of {self._timeout:g}s is up"
                ) from exc
            raise _Retryable(f"timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise _Retryable(f"connection failed ({type(exc).__name__})") from exc
        finally:
            _deadline.end = None
        status = response.status_code
        if status in NOT_APPLIED_STATUSES or status in MAYBE_APPLIED_STATUSES:
            error = _NotSent if status in NOT_APPLIED_STATUSES else _Retryable
            raise error(f"HTTP {status}", _retry_after(response.headers.get("Retry-After")))
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
        error_line = f"Ductape {status}: {text} ({operation})"
        if status == 401 and token is not None:
            raise _Unauthorized(error_line)
        if status in (401, 403):
            raise AuthError(error_line)
        raise TargetError(error_line)

    def _fetch(
        self, method: str, path: str, headers: dict[str, str], kwargs: dict[str, Any]
    ) -> tuple[httpx.Response, bytes]:
        """The response and its body, read up to the answer size limit."""
        with self._client.stream(method, path, headers=headers, **kwargs) as response:
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > self._max_answer:
                raise _TooLarge
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > self._max_answer:
                    raise _TooLarge
                chunks.append(chunk)
        return response, b"".join(chunks)

    def _scrub(self, text: str) -> str:
        """One line, cut short, escapes shown, any credential the server echoed masked."""
        session = self._session
        known = self._creds.secrets() + ((session[0],) if session else ())
        # Longest first: a short secret inside a longer one must not break the longer's mask.
        for secret in sorted((s for s in known if s), key=len, reverse=True):
            text = text.replace(secret, "***")
        return shorten(text)


def _unconfirmed(found: WriteResult | TargetError, window: float) -> WriteResult | TargetError:
    """A write the last read still did not show as sent: unknown (lag, or another writer)."""
    if isinstance(found, WriteResult | OutcomeUnknown):
        return found
    return OutcomeUnknown(
        f"{found} (still, after looking for {window:g}s); outcome unknown; re-run plan"
    )


class _Unauthorized(Exception):
    """A 401 on a call made with a token: the caller decides whether to log in again."""


class _TooLarge(Exception):
    """Internal: an answer past the size limit (read no further)."""


class _MaybeApplied(Exception):
    """Internal: stops the retry loop at a failure after which a write may have landed."""


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
