"""The embedded target: a product's jobs in a SQLite file (the store in ``store.py``).

Reads never create the file and never write to it: plan opens the store read-only. The
first write opens it for writing (creating it and the product when absent).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import TargetError
from ..model import Job
from .base import CallsInFlight, Catalogue, LiveJobs, Write, WriteResult
from .store import BUSY_TIMEOUT_SECONDS, ProductRow, Store, new_id
from .wire import (
    catalogue,
    catalogue_tags,
    confirm_written,
    inline_app_actions,
    job_from_wire,
    live_jobs,
)

if TYPE_CHECKING:
    from ..snapshot import Source

# Store and new_id stay importable from here for scripts written against the old layout.
__all__ = ["DEFAULT_PATH", "DEFAULT_PRODUCT", "LocalTarget", "Store", "new_id"]

DEFAULT_PATH = os.path.join(".reconciler", "local.db")
DEFAULT_PRODUCT = "default"


class LocalTarget:
    """A product in a SQLite file."""

    def __init__(
        self,
        path: str = DEFAULT_PATH,
        product: str = DEFAULT_PRODUCT,
        *,
        busy_timeout: float = BUSY_TIMEOUT_SECONDS,
    ) -> None:
        self.path = path
        self.product = product
        self._busy_timeout = busy_timeout
        self._store: Store | None = None
        self._product: ProductRow | None = None
        # apply writes from several threads; the first of them opens the file and product.
        self._open_lock = threading.Lock()
        self._calls = CallsInFlight(self._release)

    def describe(self) -> str:
        return f"sqlite:///{self.path} (product {self.product})"

    def _open(self, create: bool) -> tuple[Store, ProductRow] | None:
        with self._open_lock:
            if self._store is not None and create and not self._store.writable:
                self._store.close()  # opened read-only by a plan; now a write is due
                self._store, self._product = None, None
            if self._store is None:
                if not create and not os.path.exists(self.path):
                    return None
                self._store = Store(self.path, writable=create, timeout=self._busy_timeout)
            if self._product is None:
                self._product = self._store.find_product(self.product)
                if self._product is None:
                    if not create:
                        return None
                    self._product = self._store.ensure_product(self.product)
            return self._store, self._product

    def _writable(self) -> tuple[Store, ProductRow]:
        opened = self._open(create=True)
        if opened is None:  # pragma: no cover - create=True always opens or raises
            raise TargetError(f"cannot open {self.path}")
        return opened

    def fetch_jobs(self) -> LiveJobs:
        with self._calls.call():
            return self._fetch_jobs()

    def _fetch_jobs(self) -> LiveJobs:
        opened = self._open(create=False)
        if opened is None:
            return LiveJobs()
        store, product = opened
        return live_jobs(store.job_documents(product.id))

    def fetch_job(self, tag: str) -> Job | None:
        with self._calls.call():
            return self._fetch_job(tag)

    def _fetch_job(self, tag: str) -> Job | None:
        opened = self._open(create=False)
        if opened is None:
            return None
        store, product = opened
        doc = store.job_document(product.id, tag)
        return job_from_wire(doc) if doc is not None else None

    def create_job(self, job: Job) -> WriteResult:
        with self._calls.call():
            store, product = self._writable()
            doc = store.create_job(product.id, job.to_wire())
        return WriteResult(job_from_wire(doc), doc["_id"])

    def update_job(self, tag: str, changes: Mapping[str, Any]) -> WriteResult:
        with self._calls.call():
            store, product = self._writable()
            doc = store.update_job(product.id, dict(changes), tag=tag)
        return WriteResult(job_from_wire(doc), doc["_id"])

    def write_batch(self, writes: Sequence[Write]) -> list[WriteResult | TargetError]:
        """Creates and updates in one transaction of the store (see ``Store.write_many``)."""
        with self._calls.call():
            store, product = self._writable()
            docs = store.write_many(
                product.id,
                [
                    (None, w.job.to_wire()) if w.job is not None else (w.tag, dict(w.changes or {}))
                    for w in writes
                ],
            )
        return [
            doc if isinstance(doc, TargetError) else WriteResult(job_from_wire(doc), doc["_id"])
            for doc in docs
        ]

    def confirm(
        self, written: Sequence[WriteResult], *, wait: bool = True
    ) -> dict[str, WriteResult | TargetError]:
        """Each written job as the store now holds it (one read of the product's jobs; a
        store's reads never lag its writes, so there is nothing to wait for)."""
        with self._calls.call():
            store, product = self._writable()
            docs = store.job_documents(product.id)
        return confirm_written(written, docs)

    def catalogue(self, apps: Collection[str] | None = None) -> Catalogue | None:
        with self._calls.call():
            return self._catalogue()

    def _catalogue(self) -> Catalogue | None:
        # Apps carry their actions inline in the store: reading them all costs nothing.
        opened = self._open(create=False)
        if opened is None:
            return None
        store, product = opened
        doc = store.product_record(product.id)
        tags = catalogue_tags(doc) if doc else None
        return catalogue(tags, inline_app_actions(doc)) if doc and tags else None

    def snapshot_source(self) -> Source:
        """What ``reconciler snapshot`` keeps; the snapshot module allowlists it."""
        from ..snapshot import Catalogue as SavedCatalogue  # snapshot only
        from ..snapshot import Source

        opened = self._open(create=False)
        doc = opened[0].product_record(opened[1].id) if opened else None
        if opened is None or doc is None:
            raise TargetError(f"{self.path} holds no product {self.product!r} to snapshot")
        store, product = opened
        tags = catalogue_tags(doc)
        saved = SavedCatalogue.of(tags, inline_app_actions(doc)) if tags is not None else None
        return Source(product.id, product.name, store.job_documents(product.id), saved)

    def close(self) -> None:
        """Close the store now, or as the last call in flight returns."""
        self._calls.close()

    def _release(self) -> None:
        with self._open_lock:
            if self._store is not None:
                self._store.close()
                self._store, self._product = None, None
