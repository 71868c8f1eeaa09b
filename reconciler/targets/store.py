"""The SQLite store: products and their jobs, kept as the wire carries them.

One file may hold several products (and, for the local server, several workspaces); a job
is kept in wire form with a 24-hex ``_id``, so the local server serves the very rows the
embedded target writes.

Reads and writes take different paths. A write runs in one ``BEGIN IMMEDIATE`` transaction
on the one writer connection, so two writers queue instead of failing. A read runs on a
connection of its own thread with no lock and no transaction of ours: in WAL mode readers
never wait for the writer, so an authenticated GET does not queue behind PUTs.

A file that is not a reconciler store is refused before anything is written to it, and a
store opened for reading (``writable=False``, what plan does) is opened read-only: no table
is created and the journal mode is not touched.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ..errors import JobExists, TargetError
from ..strings import shorten

LOCAL_WORKSPACE = "000000000000000000000000"
# 'RCNL': marks a file as a reconciler store (PRAGMA application_id), set when it is created.
APPLICATION_ID = 0x52434E4C
# How long a write waits for another process's lock by default; a run's deadline shortens it.
BUSY_TIMEOUT_SECONDS = 10.0

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
# Tables a reconciler store may hold: its own, the local server's, SQLite's bookkeeping.
_OWN_TABLES = frozenset({"products", "jobs"})
_ALLOWED_PREFIXES = ("server_", "sqlite_")


class NotAStore(TargetError):
    """The file exists but is not a reconciler store; nothing was written to it."""


def new_id() -> str:
    """A 24-hex id shaped like a MongoDB ObjectId: 4 bytes of time, 8 random bytes."""
    import secrets  # writes only: with hmac and OpenSSL's hashes, a read plan needs none

    return f"{int(time.time()) & 0xFFFFFFFF:08x}{secrets.token_hex(8)}"


@dataclass(frozen=True)
class ProductRow:
    id: str
    workspace_id: str
    name: str


class Store:
    """The SQLite file. Thread-safe; several processes may share it (WAL, busy timeout)."""

    def __init__(
        self, path: str, *, writable: bool = True, timeout: float = BUSY_TIMEOUT_SECONDS
    ) -> None:
        self.path = path
        self.writable = writable
        self._timeout = max(0.0, timeout)
        self._lock = threading.Lock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        try:
            if writable:
                os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            conn = self._connect()
            self._check(conn)
            if writable:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA foreign_keys=ON")
                conn.executescript(_SCHEMA)
                conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
                self.empty = False
                self._conn = conn
            else:
                self._keep_reader(conn)
        except NotAStore:
            raise
        except (OSError, sqlite3.Error) as exc:
            raise TargetError(
                f"cannot open the local store {shorten(path)}: {shorten(str(exc))}"
            ) from exc

    def _connect(self) -> sqlite3.Connection:
        # Reading: read-only, except that a read-only connection to a WAL file leaves -wal
        # and -shm files behind (it may not remove them); a WAL file is read on an ordinary
        # connection with query_only set, which writes nothing and tidies up on close.
        read_only = not self.writable and not _in_wal_mode(self.path)
        target = f"file:{quote(os.path.abspath(self.path))}?mode=ro" if read_only else self.path
        conn = sqlite3.connect(
            target,
            timeout=self._timeout,
            isolation_level=None,
            check_same_thread=False,
            uri=read_only,
        )
        if not self.writable:
            conn.execute("PRAGMA query_only=ON")
        return conn

    def _check(self, conn: sqlite3.Connection) -> None:
        """Refuse a database that is not a store (before anything is written to it)."""
        (app_id,) = conn.execute("PRAGMA application_id").fetchone()
        tables = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        foreign = sorted(t for t in tables - _OWN_TABLES if not t.startswith(_ALLOWED_PREFIXES))
        if app_id not in (0, APPLICATION_ID) or foreign or (tables and _OWN_TABLES - tables):
            conn.close()
            shown = ", ".join(shorten(t, 40) for t in foreign[:3]) or "other tables"
            raise NotAStore(
                f"{shorten(self.path)} is not a reconciler store (it holds {shown}); "
                "name another file with --target sqlite:///PATH"
            )
        self.empty = not tables

    def _keep_reader(self, conn: sqlite3.Connection) -> None:
        self._local.conn = conn
        with self._readers_lock:
            self._readers.append(conn)

    def close(self) -> None:
        """Close every connection. The writer is closed under the write lock, so never in
        the middle of another thread's transaction; a reader must not be in use (the
        targets make sure by closing only once no call of theirs is in flight)."""
        with self._readers_lock:
            readers, self._readers = self._readers, []
        for conn in readers:
            conn.close()
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; BEGIN IMMEDIATE so two writers queue instead of failing."""
        with self._lock:
            conn = self._conn  # read under the lock: close() takes it too
            if conn is None:
                raise TargetError(f"local store {shorten(self.path)} is not open for writing")
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise TargetError(f"local store {shorten(self.path)}: {shorten(str(exc))}") from exc

    def read(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of one SELECT, on this thread's own connection: no lock, no write transaction."""
        if self.empty:
            return []
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        try:
            if conn is None:
                conn = self._connect()
                self._keep_reader(conn)
            return conn.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise TargetError(f"local store {shorten(self.path)}: {shorten(str(exc))}") from exc

    # --- products ------------------------------------------------------------------------

    def find_product(self, key: str, workspace_id: str = LOCAL_WORKSPACE) -> ProductRow | None:
        """A product of the workspace by id or by name."""
        rows = self.read(
            "SELECT id, workspace_id, name FROM products"
            " WHERE workspace_id = ? AND (id = ? OR name = ?) ORDER BY id = ? DESC",
            (workspace_id, key, key, key),
        )
        return ProductRow(*rows[0]) if rows else None

    def products(self, workspace_id: str) -> list[ProductRow]:
        rows = self.read(
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
        rows = self.read("SELECT doc FROM products WHERE id = ?", (product_id,))
        if not rows:
            return None
        doc = self._object(rows[0][0], f"product {product_id}")
        doc["_id"] = product_id
        return doc

    def product_document(self, product_id: str) -> dict[str, Any] | None:
        """The whole product as the wire returns it: its document plus ``_id`` and ``jobs``."""
        doc = self.product_record(product_id)
        if doc is not None:
            doc["jobs"] = self.job_documents(product_id)
        return doc

    def _object(self, text: str, what: str) -> dict[str, Any]:
        """A row's document; TargetError when it is not a JSON object (a damaged row)."""
        value = _decode(text)
        if not isinstance(value, dict):
            raise TargetError(
                f"local store {shorten(self.path)}: {what} is not a JSON object; the row is damaged"
            )
        return value

    # --- jobs ----------------------------------------------------------------------------

    def job_documents(self, product_id: str) -> list[Any]:
        """The product's job documents in creation order; a damaged row comes back as it is
        (not a dict), for the reader to report rather than to stop on."""
        rows = self.read(
            "SELECT id, tag, doc, json_valid(doc) FROM jobs WHERE product_id = ? ORDER BY seq",
            (product_id,),
        )
        return _job_rows(rows)

    def job_document(self, product_id: str, tag: str) -> Any | None:
        rows = self.read(
            "SELECT id, tag, doc FROM jobs WHERE product_id = ? AND tag = ?", (product_id, tag)
        )
        return _job_row(*rows[0]) if rows else None

    def job_by_id(self, product_id: str, job_id: str) -> Any | None:
        rows = self.read(
            "SELECT id, tag, doc FROM jobs WHERE product_id = ? AND id = ?", (product_id, job_id)
        )
        return _job_row(*rows[0]) if rows else None

    def create_job(self, product_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Insert a job (wire form, without ``_id``); JobExists if the tag is taken."""
        with self.transaction() as conn:
            return self._create(conn, product_id, body)

    def update_job(
        self,
        product_id: str,
        changes: Mapping[str, Any],
        *,
        tag: str | None = None,
        job_id: str | None = None,
    ) -> dict[str, Any]:
        """Merge ``changes`` into the job found by ``_id`` or by tag.

        TargetError if there is none; JobExists if a changed tag clashes with another job.
        """
        with self.transaction() as conn:
            return self._update(conn, product_id, changes, tag, job_id)

    def write_many(
        self, product_id: str, writes: Sequence[tuple[str | None, Mapping[str, Any]]]
    ) -> list[dict[str, Any] | TargetError]:
        """Several writes in one transaction: ``(None, body)`` creates, ``(tag, changes)``
        updates. Per write, in order, its document or the refusal that left it unwritten
        (a refusal is found before that write changes anything, so the others still land).
        TargetError if the transaction fails: it is rolled back and none landed.

        One commit (one sync of the journal) for the lot, instead of one per job: what makes
        10,000 creates cost seconds rather than tens of seconds.
        """
        out: list[dict[str, Any] | TargetError] = []
        with self.transaction() as conn:
            for tag, body in writes:
                try:
                    if tag is None:
                        out.append(self._create(conn, product_id, body))
                    else:
                        out.append(self._update(conn, product_id, body, tag, None))
                except TargetError as exc:  # JobExists, or no such job: nothing written
                    out.append(exc)
        return out

    def _create(
        self, conn: sqlite3.Connection, product_id: str, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        doc = {"_id": new_id(), **{k: v for k, v in body.items() if k != "_id"}}
        taken = conn.execute(
            "SELECT 1 FROM jobs WHERE product_id = ? AND tag = ?", (product_id, doc["tag"])
        ).fetchone()
        if taken:
            raise JobExists(f"a job tagged {shorten(str(doc['tag']))} already exists")
        conn.execute(
            "INSERT INTO jobs (id, product_id, tag, doc) VALUES (?, ?, ?, ?)",
            (doc["_id"], product_id, doc["tag"], json.dumps(doc)),
        )
        return doc

    def _update(
        self,
        conn: sqlite3.Connection,
        product_id: str,
        changes: Mapping[str, Any],
        tag: str | None,
        job_id: str | None,
    ) -> dict[str, Any]:
        row = conn.execute(
            "SELECT id, doc FROM jobs WHERE product_id = ? AND (id = ? OR tag = ?)",
            (product_id, job_id, tag),
        ).fetchone()
        if row is None:
            raise TargetError(f"no job {shorten(str(job_id or tag))} in this product")
        old = self._object(row[1], f"job {row[0]}")
        doc = {**old, **{k: v for k, v in changes.items() if k != "_id"}}
        if doc.get("tag") != old.get("tag"):
            clash = conn.execute(
                "SELECT 1 FROM jobs WHERE product_id = ? AND tag = ? AND id != ?",
                (product_id, doc["tag"], row[0]),
            ).fetchone()
            if clash:
                raise JobExists(f"a job tagged {shorten(str(doc['tag']))} already exists")
        conn.execute(
            "UPDATE jobs SET tag = ?, doc = ? WHERE id = ?",
            (doc["tag"], json.dumps(doc), row[0]),
        )
        return doc


def _in_wal_mode(path: str) -> bool:
    """Whether the SQLite file at ``path`` says it is in WAL mode (file format 2)."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(20)
    except OSError:
        return False
    return header.startswith(b"SQLite format 3\x00") and header[18:20] == b"\x02\x02"


def _decode(text: object) -> object:
    """JSON from a row; None for text that is not JSON (or nests past the parser's depth)."""
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _job_rows(rows: Sequence[tuple[Any, ...]]) -> list[Any]:
    """The documents of ``(id, tag, doc, json_valid(doc))`` rows, as :func:`_job_row` reads each.

    When SQLite finds every row one whole JSON text (RFC 8259, what ``json_valid`` checks), the
    texts joined by commas are an array of exactly those values in row order: one call to the
    parser instead of one a row (a third of reading 10,000 jobs). A value that is not an
    object, or anything the joined parse refuses, sends every row down the row-by-row path,
    which is what decides how a damaged row is shown.
    """
    texts = [doc for _, _, doc, valid in rows if valid == 1 and type(doc) is str]
    if len(texts) == len(rows):
        try:
            values = json.loads("[" + ",".join(texts) + "]")
        except (ValueError, RecursionError):
            values = None
        if (
            type(values) is list
            and len(values) == len(rows)
            and all(type(value) is dict for value in values)
        ):
            return values
    return [_job_row(id_, tag, doc) for id_, tag, doc, _ in rows]


def _job_row(id_: str, tag: str, text: str) -> Any:
    value = _decode(text)
    if isinstance(value, dict):
        return value
    # Not an object: shown to readers as a job with only its columns, which fails to parse
    # as a Job and so is reported as malformed, never raised.
    return {"_id": id_, "tag": tag, "damaged": True}
