"""The embedded target: a product's jobs in a SQLite file, stored as the wire would carry them.

One file may hold several products (and, for the local server, several workspaces); a product
is created on first write. Jobs are kept in canonical wire form with a 24-hex ``_id``, so the
local server can serve the very rows the embedded target writes.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..errors import TargetError
from ..model import Job
from .base import Catalogue, LiveJobs, MalformedJob, WriteResult

DEFAULT_PATH = os.path.join(".reconciler", "local.db")
DEFAULT_PRODUCT = "default"
LOCAL_WORKSPACE = "000000000000000000000000"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS products (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    name TEXT NOT NULL,
    doc TEXT NOT NULL,
    UNIQUE (workspace_id, name)
);
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    product_id TEXT NOT NULL REFERENCES products (id),
    tag TEXT NOT NULL,
    doc TEXT NOT NULL,
    UNIQUE (product_id, tag)
);
"""


def new_id() -> str:
    """A 24-hex id shaped like a MongoDB ObjectId: 4 bytes of time, 8 random bytes."""
    return f"{int(time.time()) & 0xFFFFFFFF:08x}{secrets.token_hex(8)}"


@dataclass(frozen=True)
class ProductRow:
    id: str
    workspace_id: str
    name: str


class Store:
    """The SQLite file. Thread-safe; several processes may share it (WAL, busy timeout)."""

    def __init__(self, path: str) -> None:
        self.path = path
        directory = os.path.dirname(os.path.abspath(path))
        try:
            os.makedirs(directory, exist_ok=True)
            self._conn = sqlite3.connect(
                path, timeout=10, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._conn.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise TargetError(f"cannot open the local store {path}: {exc}") from exc
        self._lock = threading.Lock()

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; BEGIN IMMEDIATE so two writers queue instead of failing."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._conn
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise TargetError(f"local store {self.path}: {exc}") from exc

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._conn.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise TargetError(f"local store {self.path}: {exc}") from exc

    # --- products ------------------------------------------------------------------------

    def find_product(self, key: str, workspace_id: str = LOCAL_WORKSPACE) -> ProductRow | None:
        """A product of the workspace by id or by name."""
        rows = self._read(
            "SELECT id, workspace_id, name FROM products"
            " WHERE workspace_id = ? AND (id = ? OR name = ?) ORDER BY id = ? DESC",
            (workspace_id, key, key, key),
        )
        return ProductRow(*rows[0]) if rows else None

    def products(self, workspace_id: str) -> list[ProductRow]:
        rows = self._read(
            "SELECT id, workspace_id, name FROM products WHERE workspace_id = ? ORDER BY name",
            (workspace_id,),
        )
        return [ProductRow(*row) for row in rows]

    def ensure_product(
        self, name: str, workspace_id: str = LOCAL_WORKSPACE, doc: Mapping[str, Any] | None = None
    ) -> ProductRow:
        """The product named ``name``, created (with ``doc`` as its document) if absent."""
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT id, workspace_id, name FROM products WHERE workspace_id = ? AND name = ?",
                (workspace_id, name),
            ).fetchone()
            if row:
                return ProductRow(*row)
            body = dict(doc or {})
            product_id = str(body.pop("_id", None) or new_id())
            body.pop("jobs", None)
            body["name"] = name
            conn.execute(
                "INSERT INTO products (id, workspace_id, name, doc) VALUES (?, ?, ?, ?)",
                (product_id, workspace_id, name, json.dumps(body)),
            )
            return ProductRow(product_id, workspace_id, name)

    def product_record(self, product_id: str) -> dict[str, Any] | None:
        """The product's own document with its ``_id``, without reading its jobs."""
        rows = self._read("SELECT doc FROM products WHERE id = ?", (product_id,))
        if not rows:
            return None
        doc: dict[str, Any] = json.loads(rows[0][0])
        doc["_id"] = product_id
        return doc

    def product_document(self, product_id: str) -> dict[str, Any] | None:
        """The whole product as the wire returns it: its document plus ``_id`` and ``jobs``."""
        doc = self.product_record(product_id)
        if doc is not None:
            doc["jobs"] = self.job_documents(product_id)
        return doc

    # --- jobs ----------------------------------------------------------------------------

    def job_documents(self, product_id: str) -> list[dict[str, Any]]:
        rows = self._read("SELECT doc FROM jobs WHERE product_id = ? ORDER BY seq", (product_id,))
        return [json.loads(doc) for (doc,) in rows]

    def job_document(self, product_id: str, tag: str) -> dict[str, Any] | None:
        rows = self._read(
            "SELECT doc FROM jobs WHERE product_id = ? AND tag = ?", (product_id, tag)
        )
        if not rows:
            return None
        doc: dict[str, Any] = json.loads(rows[0][0])
        return doc

    def create_job(self, product_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Insert a job (wire form, without ``_id``); TargetError if the tag is taken."""
        doc = {"_id": new_id(), **{k: v for k, v in body.items() if k != "_id"}}
        with self.transaction() as conn:
            taken = conn.execute(
                "SELECT 1 FROM jobs WHERE product_id = ? AND tag = ?", (product_id, doc["tag"])
            ).fetchone()
            if taken:
                raise TargetError(f"a job tagged {doc['tag']!r} already exists")
            conn.execute(
                "INSERT INTO jobs (id, product_id, tag, doc) VALUES (?, ?, ?, ?)",
                (doc["_id"], product_id, doc["tag"], json.dumps(doc)),
            )
        return doc

    def update_job(
        self,
        product_id: str,
        changes: Mapping[str, Any],
        *,
        tag: str | None = None,
        job_id: str | None = None,
    ) -> dict[str, Any]:
        """Merge ``changes`` into the job found by ``_id`` or by tag; TargetError if none."""
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT id, doc FROM jobs WHERE product_id = ? AND (id = ? OR tag = ?)",
                (product_id, job_id, tag),
            ).fetchone()
            if row is None:
                raise TargetError(f"no job {job_id or tag!r} in this product")
            doc: dict[str, Any] = json.loads(row[1])
            doc.update({k: v for k, v in changes.items() if k != "_id"})
            if doc["tag"] != json.loads(row[1])["tag"]:
                clash = conn.execute(
                    "SELECT 1 FROM jobs WHERE product_id = ? AND tag = ? AND id != ?",
                    (product_id, doc["tag"], row[0]),
                ).fetchone()
                if clash:
                    raise TargetError(f"a job tagged {doc['tag']!r} already exists")
            conn.execute(
                "UPDATE jobs SET tag = ?, doc = ? WHERE id = ?",
                (doc["tag"], json.dumps(doc), row[0]),
            )
        return doc


def job_from_wire(doc: Mapping[str, Any]) -> Job:
    """A live job document as a Job; TargetError naming the job if it is not one."""
    try:
        return Job.from_mapping(doc)
    except ValueError as exc:
        raise TargetError(f"live job {doc.get('tag')!r} is malformed: {exc}") from None


def live_jobs(docs: Iterable[Mapping[str, Any]]) -> LiveJobs:
    """Live job documents as Jobs; one that does not parse is reported and skipped."""
    jobs: list[Job] = []
    malformed: list[MalformedJob] = []
    for doc in docs:
        try:
            jobs.append(job_from_wire(doc))
        except TargetError as exc:
            tag, id_ = doc.get("tag"), doc.get("_id")
            malformed.append(
                MalformedJob(
                    tag if isinstance(tag, str) else None,
                    id_ if isinstance(id_, str) else None,
                    str(exc),
                )
            )
    return LiveJobs(tuple(jobs), tuple(malformed))


class LocalTarget:
    """A product in a SQLite file. Reads never create the file; the first write does."""

    def __init__(self, path: str = DEFAULT_PATH, product: str = DEFAULT_PRODUCT) -> None:
        self.path = path
        self.product = product
        self._store: Store | None = None
        self._product: ProductRow | None = None
        # apply writes from several threads; the first of them opens the file and product.
        self._open_lock = threading.Lock()

    def describe(self) -> str:
        return f"sqlite:///{self.path} (product {self.product})"

    def _open(self, create: bool) -> tuple[Store, ProductRow] | None:
        with self._open_lock:
            return self._open_locked(create)

    def _open_locked(self, create: bool) -> tuple[Store, ProductRow] | None:
        if self._store is None:
            if not create and not os.path.exists(self.path):
                return None
            self._store = Store(self.path)
        if self._product is None:
            self._product = self._store.find_product(self.product)
            if self._product is None:
                if not create:
                    return None
                self._product = self._store.ensure_product(self.product)
        return self._store, self._product

    def fetch_jobs(self) -> LiveJobs:
        opened = self._open(create=False)
        if opened is None:
            return LiveJobs()
        store, product = opened
        return live_jobs(store.job_documents(product.id))

    def fetch_job(self, tag: str) -> Job | None:
        opened = self._open(create=False)
        if opened is None:
            return None
        store, product = opened
        doc = store.job_document(product.id, tag)
        return job_from_wire(doc) if doc else None

    def create_job(self, job: Job) -> WriteResult:
        opened = self._open(create=True)
        assert opened is not None
        store, product = opened
        doc = store.create_job(product.id, job.to_wire())
        return WriteResult(job_from_wire(doc), doc["_id"])

    def update_job(self, tag: str, changes: Mapping[str, Any]) -> WriteResult:
        opened = self._open(create=True)
        assert opened is not None
        store, product = opened
        doc = store.update_job(product.id, dict(changes), tag=tag)
        return WriteResult(job_from_wire(doc), doc["_id"])

    def catalogue(self) -> Catalogue | None:
        opened = self._open(create=False)
        if opened is None:
            return None
        store, product = opened
        doc = store.product_record(product.id)
        return catalogue_from_product(doc) if doc else None

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def catalogue_from_product(doc: Mapping[str, Any]) -> Catalogue | None:
    """The event tags a product document lists; None when it lists no catalogue at all.

    Action tags are written ``<app access_tag>:<action tag>``, the way a product addresses an
    app's action; apps here carry their actions inline (the HTTP target fetches them).
    """
    if not any(key in doc for key in ("apps", "notifications", "databases", "functions")):
        return None

    def tags(items: Any) -> frozenset[str]:
        return frozenset(str(i["tag"]) for i in items or () if isinstance(i, dict) and "tag" in i)

    actions = {
        f"{app.get('access_tag')}:{action['tag']}"
        for app in doc.get("apps") or ()
        if isinstance(app, dict)
        for action in app.get("actions") or ()
        if isinstance(action, dict) and "tag" in action
    }
    database_actions = {
        f"{db.get('tag')}:{action['tag']}"
        for db in doc.get("databases") or ()
        if isinstance(db, dict)
        for action in db.get("actions") or ()
        if isinstance(action, dict) and "tag" in action
    }
    return Catalogue(
        action=frozenset(actions),
        notification=tags(doc.get("notifications")),
        database_action=frozenset(database_actions),
        function=tags(doc.get("functions")),
    )
