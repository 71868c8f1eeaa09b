"""The Ductape target: the product's jobs over Ductape's HTTP wire. The only httpx user.

The wire is described in ``shared/ductape-wire.md`` section 2. Jobs have no endpoint of their
own: they are read from the product document and written with the product's component PUT.
Secrets (the private key, the auth token, the product's own keys) are sent where the wire
needs them and never kept in messages, reprs or logs.
"""

from __future__ import annotations

import email.utils
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from ..errors import AuthError, TargetError, UsageError
from ..model import Job
from .base import Catalogue, LiveJobs, WriteResult
from .local import catalogue_from_product, job_from_wire, live_jobs

T = TypeVar("T")
OBJECT_ID = re.compile(r"^[0-9a-fA-F]{24}$")
RETRY_STATUSES = frozenset({429, 502, 503, 504})
MAX_MESSAGE = 200


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
            if not OBJECT_ID.match(getattr(self, name)):
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
    """Bounded retries: exponential backoff with full jitter, a cap on count and on time."""

    attempts: int = 6
    base: float = 0.2
    cap: float = 5.0
    budget: float = 60.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.cap * 4)
        return random.uniform(0, min(self.cap, self.base * 2**attempt))


class _Retryable(Exception):
    """A failure worth another try: a dropped connection, a timeout, 429, 502-504."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DuctapeTarget:
    """A Ductape product's jobs, by product id or name, over one httpx.Client."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        product: str,
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 15.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not product:
            raise UsageError("name the Ductape product with --product or DUCTAPE_PRODUCT")
        self.base_url = base_url.rstrip("/")
        self.product = product
        self._creds = credentials
        self._retry = retry or RetryPolicy()
        self._client = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            transport=transport,
            headers={"User-Agent": "reconciler"},
        )
        self._lock = threading.Lock()
        self._session: tuple[str, str] | None = None  # (auth token, public key)
        self._product_id: str | None = None
        self._ids: dict[str, str] = {}  # job tag -> _id, from the last product read
        # The catalogue's tags from the last product read (no secrets: only tags are kept).
        self._catalogue_doc: dict[str, Any] | None = None

    def describe(self) -> str:
        # Without any user:password@ part: this label goes into plans, plan files and logs.
        shown = httpx.URL(self.base_url).copy_with(username=None, password=None)
        return f"{str(shown).rstrip('/')} (product {self.product})"

    def close(self) -> None:
        self._client.close()

    # --- the session ---------------------------------------------------------------------

    def _login(self) -> tuple[str, str]:
        with self._lock:
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

    def _query(self) -> dict[str, str]:
        _, public_key = self._login()
        return {"user_id": self._creds.user_id, "public_key": public_key}

    def _resolve_product(self) -> str:
        if self._product_id is None:
            if OBJECT_ID.match(self.product):
                self._product_id = self.product
            else:
                ws = self._creds.workspace_id
                products = self._call(
                    "list products",
                    "GET",
                    f"/integrations/integrations/v1/workspace/{ws}/all",
                    params=self._query(),
                )
                matches = [
                    p["_id"]
                    for p in products or ()
                    if isinstance(p, dict) and p.get("name") == self.product and p.get("_id")
                ]
                if not matches:
                    raise TargetError(f"no product named {self.product!r} in the workspace")
                if len(matches) > 1:
                    raise TargetError(
                        f"{len(matches)} products are named {self.product!r}; use its id"
                    )
                self._product_id = str(matches[0])
        return self._product_id

    def _read_product(self) -> dict[str, Any]:
        product_id = self._resolve_product()
        params = {"workspace_id": self._creds.workspace_id, **self._query()}
        doc = self._call(
            "read product", "GET", f"/integrations/integrations/v1/{product_id}", params=params
        )
        if not isinstance(doc, dict):
            raise TargetError("Ductape read product: the answer is not a product")
        return doc

    # --- the four operations -------------------------------------------------------------

    def fetch_jobs(self) -> LiveJobs:
        return live_jobs(self._live_job_documents())

    def fetch_job(self, tag: str) -> Job | None:
        found = self._find_live(tag)
        return found.job if found else None

    def _live_job_documents(self) -> list[dict[str, Any]]:
        # Only jobs and catalogue tags are kept from the product document: the rest holds secrets.
        product = self._read_product()
        docs = [j for j in product.get("jobs") or () if isinstance(j, dict)]
        with self._lock:
            self._catalogue_doc = _catalogue_tags(product)
            self._ids = {str(d["tag"]): str(d["_id"]) for d in docs if "tag" in d and "_id" in d}
        return docs

    def create_job(self, job: Job) -> WriteResult:
        """Create; after a failure that may have landed, re-read and retry only if still absent."""
        body = {"component": "job", **job.to_wire(), **self._envelope()}

        def attempt(retrying: bool) -> WriteResult | None:
            if retrying:
                found = self._find_live(job.tag)
                if found is not None:  # the failed attempt did land
                    return found
            answer = self._put(f"create job {job.tag}", body)
            return _job_in(answer, job.tag) or self._find_live(job.tag)

        return self._write(f"create job {job.tag}", attempt)

    def update_job(self, tag: str, changes: Mapping[str, Any]) -> WriteResult:
        """Update; setting fields to values is idempotent, so a retry cannot duplicate."""
        with self._lock:
            job_id = self._ids.get(tag)
        if job_id is None:
            self._live_job_documents()
            with self._lock:
                job_id = self._ids.get(tag)
        if job_id is None:
            raise TargetError(f"update job {tag}: no live job with that tag")
        body = {"component": "job", **dict(changes), "_id": job_id, **self._envelope()}

        def attempt(retrying: bool) -> WriteResult | None:
            answer = self._put(f"update job {tag}", body)
            return _job_in(answer, tag) or self._find_live(tag)

        return self._write(f"update job {tag}", attempt)

    def catalogue(self) -> Catalogue | None:
        """Event tags of the product; an app's actions come from the apps service."""
        doc = self._catalogue_doc or _catalogue_tags(self._read_product())
        apps = []
        for tag in doc["apps"]:
            ws = self._creds.workspace_id
            found = self._call(
                f"read app {tag}", "GET", f"/apps/apps/v1/access/{ws}/{tag}", params=self._query()
            )
            app_id = found.get("_id") if isinstance(found, dict) else None
            full = (
                self._call(
                    f"read app {tag}", "GET", f"/apps/apps/v1/{app_id}", params=self._query()
                )
                if app_id
                else {}
            )
            actions = full.get("actions") if isinstance(full, dict) else None
            apps.append({"access_tag": tag, "actions": actions or []})
        catalogue_doc = {key: doc.get(key) for key in ("notifications", "databases", "functions")}
        return catalogue_from_product({**catalogue_doc, "apps": apps})

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

    def _find_live(self, tag: str) -> WriteResult | None:
        """The live job with ``tag`` and its id, from a fresh read of the product."""
        return _job_in({"jobs": self._live_job_documents()}, tag)

    def _write(self, operation: str, attempt: Callable[[bool], WriteResult | None]) -> WriteResult:
        result = self._retrying(operation, attempt)
        if result is None:
            raise TargetError(f"Ductape {operation}: accepted, but the job is not in the product")
        return result

    def _retrying(self, operation: str, step: Callable[[bool], T]) -> T:
        deadline = time.monotonic() + self._retry.budget
        last = ""
        for attempt in range(self._retry.attempts):
            try:
                return step(attempt > 0)
            except _Retryable as exc:
                last = str(exc)
                pause = self._retry.delay(attempt, exc.retry_after)
                if attempt + 1 >= self._retry.attempts or time.monotonic() + pause > deadline:
                    break
                time.sleep(pause)
        raise TargetError(f"Ductape {operation}: gave up after retries ({last})")

    def _call(self, operation: str, method: str, path: str, **kwargs: Any) -> Any:
        """A read (or login): retried on its own, since repeating it changes nothing."""
        return self._retrying(operation, lambda _: self._send(operation, method, path, **kwargs))

    def _send(
        self, operation: str, method: str, path: str, *, auth: bool = True, **kwargs: Any
    ) -> Any:
        """One request; the envelope's data, or a TargetError/AuthError/_Retryable."""
        headers = {}
        if auth:
            token, _ = self._login()
            # The workspace service takes the bare token; the others take a Bearer token.
            headers["Authorization"] = token if "/workspaces/" in path else f"Bearer {token}"
        try:
            response = self._client.request(method, path, headers=headers, **kwargs)
        except httpx.TimeoutException as exc:
            raise _Retryable(f"timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise _Retryable(f"connection failed ({type(exc).__name__})") from None
        if response.status_code in RETRY_STATUSES:
            raise _Retryable(
                f"HTTP {response.status_code}", _retry_after(response.headers.get("Retry-After"))
            )
        try:
            body = response.json()
        except ValueError:
            body = None
        ok = response.is_success and isinstance(body, dict) and body.get("status") is not False
        if ok:
            return body.get("data") if isinstance(body, dict) else None
        message = body.get("errors") if isinstance(body, dict) else None
        text = self._scrub(str(message or response.reason_phrase or "no message"))
        error = f"Ductape {response.status_code}: {text} ({operation})"
        if response.status_code in (401, 403):
            raise AuthError(error)
        raise TargetError(error)

    def _scrub(self, text: str) -> str:
        """One line, cut short, with any credential the server echoed masked."""
        known = self._creds.secrets() + ((self._session[0],) if self._session else ())
        # Longest first: a short secret inside a longer one must not break the longer's mask.
        for secret in sorted((s for s in known if s), key=len, reverse=True):
            text = text.replace(secret, "***")
        text = " ".join(text.split())
        return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def _catalogue_tags(product: Mapping[str, Any]) -> dict[str, Any]:
    """Just the tags of a product's catalogue: apps' access tags and the events' tags."""

    def tagged(items: Any, keep: tuple[str, ...] = ("tag",)) -> list[dict[str, Any]]:
        return [{k: i[k] for k in keep if k in i} for i in items or () if isinstance(i, dict)]

    return {
        "apps": [str(a["access_tag"]) for a in tagged(product.get("apps"), ("access_tag",)) if a],
        "notifications": tagged(product.get("notifications")),
        "functions": tagged(product.get("functions")),
        "databases": [
            {"tag": db.get("tag"), "actions": tagged(db.get("actions"))}
            for db in product.get("databases") or ()
            if isinstance(db, dict)
        ],
    }


def _job_in(product: Any, tag: str) -> WriteResult | None:
    """The job from a PUT's answer, where the server answers with the product (saves a GET)."""
    if not isinstance(product, dict):
        return None
    for doc in product.get("jobs") or ():
        if isinstance(doc, dict) and doc.get("tag") == tag:
            return WriteResult(job_from_wire(doc), str(doc.get("_id", "")))
    return None


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
