"""Users, workspaces, auth tokens and apps of the local server, in the Store's SQLite file.

The Store owns products and jobs; these tables sit beside them in the same file so one
``--db`` holds a whole local Ductape. Reads go through ``Store.read`` (no write lock);
only writes take a transaction. Secrets are kept as SHA-256 digests only: a private key
or a token read from the file cannot be replayed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..targets.store import Store, new_id

# Prefixed so they never collide with the Store's own tables.
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS server_users (
        id TEXT PRIMARY KEY,
        key_digest TEXT NOT NULL,
        public_key TEXT NOT NULL,
        doc TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS server_workspaces (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES server_users (id),
        doc TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS server_tokens (
        digest TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        workspace_id TEXT NOT NULL,
        expires_at REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS server_builders (
        user_id TEXT NOT NULL,
        workspace_id TEXT NOT NULL,
        expires_at REAL NOT NULL,
        PRIMARY KEY (user_id, workspace_id)
    )""",
    """CREATE TABLE IF NOT EXISTS server_apps (
        id TEXT PRIMARY KEY,
        workspace_id TEXT NOT NULL,
        access_tag TEXT NOT NULL,
        doc TEXT NOT NULL,
        UNIQUE (workspace_id, access_tag)
    )""",
)

# Long enough for a working day of plans and applies; short enough that a token copied out
# of a terminal goes stale. Tests move the accounts' clock instead (create_app(clock=...)).
TOKEN_TTL_SECONDS = 12 * 3600
# Log-ins per user per minute, right key or wrong: ample for CI, too few to guess a key.
LOGINS_PER_MINUTE = 30
# Live tokens kept per user: each log-in adds a row; the oldest beyond this are dropped.
TOKENS_PER_USER = 50
MAX_THROTTLED_USERS = 10_000


class LoginThrottled(Exception):
    """A user logged in too often in the last minute (the server answers 429)."""


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Session:
    """Who a valid token speaks for."""

    user_id: str
    workspace_id: str


@dataclass(frozen=True)
class User:
    id: str
    public_key: str
    doc: dict[str, Any]


class Accounts:
    """The server's own tables, reached through the Store's connection and lock."""

    def __init__(
        self,
        store: Store,
        *,
        token_ttl: float = TOKEN_TTL_SECONDS,
        logins_per_minute: int = LOGINS_PER_MINUTE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``clock`` is "now" in Unix seconds: tokens, builder sessions and the log-in
        throttle all read it, so a test moves it instead of sleeping."""
        self.store = store
        self.clock = clock
        self.token_ttl = token_ttl
        self.logins_per_minute = logins_per_minute
        # Recent log-in times by user, in memory: a throttle, not a record worth a table.
        self._attempts: dict[str, list[float]] = {}
        with store.transaction() as conn:
            for statement in _SCHEMA:
                conn.execute(statement)

    # --- users and workspaces -------------------------------------------------------------

    def upsert_user(self, user_id: str, private_key: str, doc: Mapping[str, Any]) -> User:
        """Create the user, or refresh its key; an existing public key is kept."""
        with self.store.transaction() as conn:
            row = conn.execute(
                "SELECT public_key FROM server_users WHERE id = ?", (user_id,)
            ).fetchone()
            public_key = str(
                doc.get("public_key") or (row[0] if row else f"pk_dev_{secrets.token_hex(12)}")
            )
            body = {k: v for k, v in doc.items() if k not in ("private_key", "public_key")}
            body["_id"] = user_id
            conn.execute(
                "INSERT INTO server_users (id, key_digest, public_key, doc) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET key_digest = excluded.key_digest,"
                " public_key = excluded.public_key, doc = excluded.doc",
                (user_id, digest(private_key), public_key, json.dumps(body)),
            )
        return User(user_id, public_key, body)

    def upsert_workspace(self, workspace_id: str, user_id: str, name: str) -> None:
        with self.store.transaction() as conn:
            doc = {"_id": workspace_id, "name": name, "user_id": user_id}
            conn.execute(
                "INSERT INTO server_workspaces (id, user_id, doc) VALUES (?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, doc = excluded.doc",
                (workspace_id, user_id, json.dumps(doc)),
            )

    def user(self, user_id: str) -> User | None:
        rows = self.store.read("SELECT public_key, doc FROM server_users WHERE id = ?", (user_id,))
        return User(user_id, rows[0][0], json.loads(rows[0][1])) if rows else None

    def workspace(self, workspace_id: str) -> dict[str, Any] | None:
        rows = self.store.read("SELECT doc FROM server_workspaces WHERE id = ?", (workspace_id,))
        doc: dict[str, Any] | None = json.loads(rows[0][0]) if rows else None
        return doc

    # --- tokens ---------------------------------------------------------------------------

    def login(self, user_id: str, workspace_id: str, private_key: str) -> str | None:
        """A new token if the key is the user's and the workspace is theirs, else None.

        LoginThrottled when the user has logged in more than ``LOGINS_PER_MINUTE`` times in
        the last minute, right or wrong key alike (a guessing client gets no more tries).
        """
        with self.store.transaction() as conn:
            now = self.clock()
            recent = [t for t in self._attempts.get(user_id, []) if t > now - 60]
            if len(recent) >= self.logins_per_minute:
                self._attempts[user_id] = recent
                raise LoginThrottled("too many log-ins for this user; wait a minute")
            if len(self._attempts) > MAX_THROTTLED_USERS:  # unknown ids must not grow it
                self._attempts = {u: ts for u, ts in self._attempts.items() if ts[-1] > now - 60}
            self._attempts[user_id] = [*recent, now]
            row = conn.execute(
                "SELECT u.key_digest FROM server_users u JOIN server_workspaces w"
                " ON w.user_id = u.id WHERE u.id = ? AND w.id = ?",
                (user_id, workspace_id),
            ).fetchone()
            # Compare digests in constant time, and do the work even for an unknown user.
            expected = row[0] if row else digest(secrets.token_hex(16))
            if not hmac.compare_digest(expected, digest(private_key)) or row is None:
                return None
            return self._issue(conn, user_id, workspace_id, now + self.token_ttl)

    def _issue(
        self, conn: sqlite3.Connection, user_id: str, workspace_id: str, expires_at: float
    ) -> str:
        """A new token row; expired rows go, and a user keeps at most TOKENS_PER_USER."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        conn.execute("DELETE FROM server_tokens WHERE expires_at < ?", (now,))
        conn.execute(
            "INSERT INTO server_tokens (digest, user_id, workspace_id, expires_at)"
            " VALUES (?, ?, ?, ?)",
            (digest(token), user_id, workspace_id, expires_at),
        )
        conn.execute(
            "DELETE FROM server_tokens WHERE user_id = ? AND digest NOT IN ("
            " SELECT digest FROM server_tokens WHERE user_id = ?"
            " ORDER BY expires_at DESC LIMIT ?)",
            (user_id, user_id, TOKENS_PER_USER),
        )
        return token

    def session(self, token: str) -> Session | None:
        rows = self.store.read(
            "SELECT user_id, workspace_id FROM server_tokens WHERE digest = ? AND expires_at >= ?",
            (digest(token), self.clock()),
        )
        return Session(rows[0][0], rows[0][1]) if rows else None

    # --- builder sessions (the SDK's handshake) -------------------------------------------

    def open_builder(self, session: Session) -> float:
        """Record a builder session for the token's user and workspace; its expiry."""
        expires_at = self.clock() + self.token_ttl
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO server_builders (user_id, workspace_id, expires_at)"
                " VALUES (?, ?, ?) ON CONFLICT (user_id, workspace_id)"
                " DO UPDATE SET expires_at = excluded.expires_at",
                (session.user_id, session.workspace_id, expires_at),
            )
        return expires_at

    def builder_token(self, user_id: str, workspace_id: str) -> str | None:
        """A token expiring with the user's live builder session, or None if there is none."""
        with self.store.transaction() as conn:
            row = conn.execute(
                "SELECT expires_at FROM server_builders"
                " WHERE user_id = ? AND workspace_id = ? AND expires_at > ?",
                (user_id, workspace_id, self.clock()),
            ).fetchone()
            if row is None:
                return None
            return self._issue(conn, user_id, workspace_id, float(row[0]))

    # --- apps -----------------------------------------------------------------------------

    def ensure_app(self, workspace_id: str, access_tag: str, actions: Iterable[str]) -> str:
        """The app's id, created if absent; actions it lacks are added, none removed."""
        with self.store.transaction() as conn:
            row = conn.execute(
                "SELECT id, doc FROM server_apps WHERE workspace_id = ? AND access_tag = ?",
                (workspace_id, access_tag),
            ).fetchone()
            if row:
                app_id: str = row[0]
                doc: dict[str, Any] = json.loads(row[1])
            else:
                app_id = new_id()
                doc = {
                    "_id": app_id,
                    "access_tag": access_tag,
                    "name": access_tag,
                    "workspace_id": workspace_id,
                    "actions": [],
                }
            known = {a["tag"] for a in doc["actions"]}
            missing = [tag for tag in actions if tag not in known]
            if row and not missing:
                return app_id
            doc["actions"].extend({"_id": new_id(), "tag": tag} for tag in missing)
            conn.execute(
                "INSERT INTO server_apps (id, workspace_id, access_tag, doc) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
                (app_id, workspace_id, access_tag, json.dumps(doc)),
            )
        return app_id

    def app(self, app_id: str) -> dict[str, Any] | None:
        rows = self.store.read("SELECT doc FROM server_apps WHERE id = ?", (app_id,))
        doc: dict[str, Any] | None = json.loads(rows[0][0]) if rows else None
        return doc

    def app_by_tag(self, workspace_id: str, access_tag: str) -> dict[str, Any] | None:
        rows = self.store.read(
            "SELECT doc FROM server_apps WHERE workspace_id = ? AND access_tag = ?",
            (workspace_id, access_tag),
        )
        doc: dict[str, Any] | None = json.loads(rows[0][0]) if rows else None
        return doc
