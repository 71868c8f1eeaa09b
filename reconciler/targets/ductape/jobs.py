"""The Ductape target: a product's jobs, read and written through the client (docs/wire.md).

Jobs have no endpoint of their own: they are read from the product document and written
with the product's component PUT, whose answer carries nothing we rely on.

Cost: a run reads the product once (the plan's read, which also gives every job's ``_id``),
sends one PUT per write, and reads the product once more at the end to confirm every write
(:meth:`DuctapeTarget.confirm`). The only other reads are the safety re-reads after an answer
was lost. The log-in is shared with the other targets of the same credentials (auth.py),
and so are the connection pool (client.py) and the reads that do not depend on the product:
the workspace's product list (a product named, not given by id) and each app's actions
(two requests an app the manifests' actions name), each read once however many products
of the run ask.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Collection, Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

from ...errors import OutcomeUnknown, TargetError, UsageError
from ...model import Job
from ...snapshot import Catalogue as SavedCatalogue
from ...snapshot import Source
from ...strings import is_object_id, shorten
from ...suggest import closest
from ..base import CallsInFlight, Catalogue, LiveJobs, WriteResult
from ..wire import (
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
from .auth import Credentials, Session
from .client import MAX_ANSWER_BYTES, Client, Repeat, RetryPolicy, Transport
from .deadline import Budget, DeadlineExceeded

PRODUCTS = "/integrations/integrations/v1"


class DuctapeTarget:
    """A Ductape product's jobs, by product id or name.

    ``timeout`` is the run's time limit; ``transport`` (an httpx transport) is for tests of
    faults no server can make.
    """

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        product: str,
        *,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        transport: Transport | None = None,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        if not product:
            raise UsageError("name the Ductape product with --product or DUCTAPE_PRODUCT")
        if "@" in urlsplit(base_url).netloc:
            # httpx would send these as Basic auth in place of the token, to a host that may
            # log them: refused rather than stripped, so the mistake is seen.
            raise UsageError("the target URL must not carry user:password@; remove it")
        self.base_url = base_url.rstrip("/")
        self.product = product
        self._creds = credentials
        self._retry = retry or RetryPolicy()
        self._timeout = timeout
        self._client = Client(
            self.base_url,
            self._retry,
            Budget(timeout),
            secrets=lambda: self._session.secrets(),
            transport=transport,
            max_answer_bytes=max_answer_bytes,
            # The targets of one user share one connection pool, as they share a log-in.
            share=(credentials.user_id, credentials.workspace_id, credentials.digest()),
        )
        scope = None if transport is None else id(transport)
        self._session = Session(self._client, self.base_url, credentials, scope)
        self._state_lock = threading.Lock()
        self._product_id: str | None = None
        # From the last product read: job documents by tag (jobs hold no secrets), their
        # _ids, the catalogue's tags and the product's name. Nothing else of it is kept.
        self._jobs: dict[str, Mapping[str, Any]] = {}
        self._ids: dict[str, str] = {}
        self._tags: CatalogueTags | None = None
        self._name: str | None = None  # the product's name, for snapshots
        self._calls = CallsInFlight(self._close_now)

    def describe(self) -> str:
        return f"{self.base_url} (product {self.product})"

    def close(self) -> None:
        """Close the client now, or as the last call in flight returns (a worker still in a
        request after an interrupt keeps its connection until it is done)."""
        self._calls.close()

    def _close_now(self) -> None:
        self._client.close()
        self._session.close()

    # --- reads ---------------------------------------------------------------------------

    def _query(self) -> dict[str, str]:
        return {"user_id": self._creds.user_id, "public_key": self._session.public_key()}

    def _get(self, operation: str, path: str, params: Mapping[str, str]) -> Any:
        return self._client.read(operation, "GET", path, auth=self._session, params=params)

    def _resolve_product(self) -> str:
        if self._product_id is None:
            if is_object_id(self.product):
                self._product_id = self.product
            else:
                self._product_id = self._product_by_name()
        return self._product_id

    def _product_by_name(self) -> str:
        listed = self._session.once("products", self._list_products)
        matches = [product_id for name, product_id in listed if name == self.product]
        if not matches:
            names = [name for name, _ in listed if name is not None]
            close = closest(self.product, names, n=3)
            hint = "; did you mean " + ", ".join(shorten(n, 60) for n in close) + "?"
            raise TargetError(
                f"no product named {shorten(self.product, 60)!r} in the workspace"
                + (hint if close else "")
            )
        if len(matches) > 1:
            raise TargetError(
                f"{len(matches)} products are named {shorten(self.product, 60)!r}; use its id"
            )
        return str(matches[0])

    def _list_products(self) -> tuple[tuple[str | None, str], ...]:
        """The workspace's products as (name, id): one list, read once for every target of
        the log-in (the whole product documents it carries, secrets included, are dropped)."""
        ws = self._creds.workspace_id
        products = self._get("list products", f"{PRODUCTS}/workspace/{ws}/all", self._query())
        # A listed product without a proper _id could address any path: not one.
        return tuple(
            (p["name"] if isinstance(p.get("name"), str) else None, str(p["_id"]))
            for p in products or ()
            if isinstance(p, dict) and is_object_id(p.get("_id"))
        )

    def _read_jobs(self) -> list[object]:
        """One read of the product; keeps its jobs, their ids and the catalogue's tags."""
        product_id = self._resolve_product()
        params = {"workspace_id": self._creds.workspace_id, **self._query()}
        product = self._get("read product", f"{PRODUCTS}/{product_id}", params)
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

    # --- writes --------------------------------------------------------------------------

    def _envelope(self) -> dict[str, str]:
        return {
            "user_id": self._creds.user_id,
            "workspace_id": self._creds.workspace_id,
            "public_key": self._session.public_key(),
        }

    def create_job(self, job: Job) -> WriteResult:
        """Create. After an answer that may have been lost, look for the job for a bounded
        time; still absent is OutcomeUnknown, never a blind second create (no delete exists
        to undo a duplicate)."""
        with self._calls.call():
            return self._create_job(job)

    def _create_job(self, job: Job) -> WriteResult:
        operation = f"create job {shorten(job.tag, 80)}"
        body = {"component": "job", **job.to_wire(), **self._envelope()}
        path = f"{PRODUCTS}/{self._resolve_product()}"
        lost = self._client.write(
            operation, path, body, auth=self._session, repeat=Repeat.IF_NOT_APPLIED
        )
        if lost is not None and self._look_for(job.tag) is None:
            raise OutcomeUnknown(
                f"Ductape {operation}: {lost.reason}, and the job did not appear within "
                f"{self._retry.confirm_window:g}s; outcome unknown; re-run plan"
            ) from lost.cause
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
        self._client.write(
            operation,
            f"{PRODUCTS}/{self._resolve_product()}",
            body,
            auth=self._session,
            repeat=Repeat.UNLESS_LANDED,
            landed=lambda: self.fetch_job(tag) == expected,
        )
        return WriteResult(expected, job_id)

    def _look_for(self, tag: str) -> Job | None:
        """Re-read with backoff until ``tag`` is live or the confirm window ends."""
        end = self._client.budget.until(self._retry.confirm_window)
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
        end = self._client.budget.until(self._retry.confirm_window)
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

    # --- the catalogue and snapshots -----------------------------------------------------

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
        actions: dict[str, list[str]] = {}
        for tag in tags["apps"]:
            if apps is not None and tag not in apps:
                continue
            # An app is the workspace's, whichever product uses it: read once for all.
            found = self._session.once(("app", tag), functools.partial(self._read_app, tag))
            if found is not None:
                actions[tag] = list(found)
        return actions

    def _read_app(self, tag: str) -> tuple[str, ...] | None:
        """The action tags of the workspace's app ``tag`` (two requests), None without one."""
        ws = self._creds.workspace_id
        operation = f"read app {shorten(tag, 80)}"
        # The tag comes from the server: quoted, so it stays one path segment.
        found = self._get(
            operation, f"/apps/apps/v1/access/{ws}/{quote(tag, safe='')}", self._query()
        )
        app_id = found.get("_id") if isinstance(found, dict) else None
        if not is_object_id(app_id):
            return None
        return tuple(
            app_action_tags(self._get(operation, f"/apps/apps/v1/{app_id}", self._query()))
        )

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


def _unconfirmed(found: WriteResult | TargetError, window: float) -> WriteResult | TargetError:
    """A write the last read still did not show as sent: unknown (lag, or another writer)."""
    if isinstance(found, WriteResult | OutcomeUnknown):
        return found
    return OutcomeUnknown(
        f"{found} (still, after looking for {window:g}s); outcome unknown; re-run plan"
    )
