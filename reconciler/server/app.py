"""The Starlette application: Ductape's wire (``docs/wire.md``) over a Store.

Every answer is an envelope: ``{"status": true, "meta": {}, "data": ...}`` or
``{"status": false, "meta": {}, "errors": "<message>"}``. Handlers are synchronous functions
run in Starlette's threadpool; the Store serialises writes with its lock and BEGIN IMMEDIATE,
so concurrent PUTs queue rather than overwrite each other.

Auth: every endpoint but login and builder validate needs a token, sent as
``Authorization: Bearer <t>`` or a bare ``Authorization: <t>`` (the wire uses both). The
token is checked before the body is read: a client without one cannot make the server wait
for a body. A body must then arrive whole within ``body_timeout`` seconds (408 otherwise),
and every string in it must be one JSON can carry (no lone surrogate: 422), since whatever is
stored is served back to every reader of the product.

The builder handshake of the published SDK (``ductape-sdk``'s ``getProductBuilder``): builder
validate is open on the wire and its answer's ``token`` is then used as a credential. So it
answers 404 ("no session yet") unless an authenticated ``POST .../builder`` opened a builder
session for that user and workspace; while that session lives, validate hands out a token
expiring with it. Anyone holding the user id, workspace id and public key can then obtain a
token until the session expires, as on Ductape itself; without a session, validate grants
nothing. The SDK takes the 404, logs in with the private key and opens the session.

Wire modes: ``strict`` (the default) answers a job PUT as Ductape does, with the success
envelope and no product, so clients must re-read; ``full`` answers with the whole product,
the server's old behaviour, kept for clients written against it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import JobExists, TargetError
from ..model import Job
from ..schema import check_value
from ..strings import printable, shorten
from ..targets.store import Store
from ..targets.wire import ENVELOPE_KEYS
from .accounts import LOGINS_PER_MINUTE, TOKEN_TTL_SECONDS, Accounts, LoginThrottled, Session
from .seed import PRODUCT_STATUSES

log = logging.getLogger("reconciler.server")
access_log = logging.getLogger("reconciler.server.access")

# What the list endpoint filters on: a product's own status, or all of them.
LISTED_STATUSES = ("all", *PRODUCT_STATUSES)
# An oversized body is read and dropped up to this much so the client still gets its 413
# (closing a socket with unread input resets it, and the answer is lost); beyond, we hang up.
DRAIN_LIMIT_BYTES = 64 * 1024 * 1024
# A request's body must arrive within this long of its head (uvicorn has no such limit: a
# client that declares a Content-Length and sends nothing held a connection forever).
# The same figure as the head's limit in ``run``; the README documents both.
REQUEST_SECONDS = 15.0


class ApiError(Exception):
    """An expected failure, answered with the error envelope."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def success(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse({"status": True, "meta": {}, "data": data}, status_code=status)


def failure(status: int, message: str) -> JSONResponse:
    return JSONResponse({"status": False, "meta": {}, "errors": message}, status_code=status)


@dataclass(frozen=True)
class Call:
    """What a handler sees of a request: parameters, parsed body, and who is asking."""

    path: Mapping[str, str]
    query: Mapping[str, str]
    body: Any
    session: Session | None


Handler = Callable[[Call], Any]


WIRE_MODES = ("strict", "full")


def create_app(
    store: Store,
    *,
    max_body_bytes: int = 1_000_000,
    wire: str = "strict",
    token_ttl: float = TOKEN_TTL_SECONDS,
    logins_per_minute: int = LOGINS_PER_MINUTE,
    body_timeout: float = REQUEST_SECONDS,
    clock: Callable[[], float] = time.time,
) -> Starlette:
    """The local Ductape server over ``store``; bodies above ``max_body_bytes`` get a 413.

    ``wire`` is "strict" (a PUT answers without the product) or "full" (with it);
    ``token_ttl`` is how many seconds a token from login or a builder session lives;
    ``logins_per_minute`` caps each user's log-ins (a load test may raise it);
    ``body_timeout`` is how many seconds a body may take to arrive after its head (408);
    ``clock`` is the accounts' "now" in Unix seconds (tests move it to expire a token).
    """
    if wire not in WIRE_MODES:
        raise ValueError(f"wire must be one of {', '.join(WIRE_MODES)}")
    if not body_timeout > 0:
        raise ValueError("body_timeout must be a positive number of seconds")
    api = _Api(
        store,
        Accounts(store, token_ttl=token_ttl, logins_per_minute=logins_per_minute, clock=clock),
        full_answers=wire == "full",
    )
    users, apps = "/users/users/v1", "/apps/apps/v1"
    workspaces, products = "/workspaces/workspaces/v1", "/integrations/integrations/v1"
    table: list[tuple[str, str, Handler]] = [
        ("POST", f"{users}/login/authKey", api.login),
        ("POST", f"{apps}/builder/validate", api.builder_validate),
        ("POST", f"{apps}/builder", api.builder_session),
        ("GET", f"{apps}/access/{{workspace_id}}/{{access_tag}}", api.app_by_tag),
        ("GET", f"{apps}/{{app_id}}", api.app_by_id),
        ("GET", f"{workspaces}/get/{{workspace_id}}", api.workspace),
        ("GET", f"{products}/workspace/{{workspace_id}}/{{status}}", api.products),
        ("GET", f"{products}/{{product_id}}", api.product),
        ("PUT", f"{products}/{{product_id}}", api.put_product),
    ]
    # Login and builder validate carry no token on the wire; login answers 201.
    open_handlers = {api.login, api.builder_validate}
    routes = [
        _route(
            api,
            path,
            method,
            handler,
            _BodyLimits(max_body_bytes, body_timeout),
            auth=handler not in open_handlers,
            status=201 if handler == api.login else 200,
        )
        for method, path, handler in table
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error},
    )
    app.add_middleware(AccessLog)
    return app


@dataclass(frozen=True)
class _BodyLimits:
    size: int  # bytes
    seconds: float  # from the head's arrival to the body's last byte


def _route(
    api: _Api,
    path: str,
    method: str,
    handler: Handler,
    limits: _BodyLimits,
    *,
    auth: bool = True,
    status: int = 200,
) -> Route:
    has_body = method in ("POST", "PUT")

    async def endpoint(request: Request) -> Response:
        unread = has_body
        try:
            # The token first: nobody unauthenticated gets to make the server wait for a body.
            session = await run_in_threadpool(api.session, _token(request)) if auth else None
            body = await _json_body(request, limits) if has_body else None
            unread = False
            call = Call(dict(request.path_params), dict(request.query_params), body, session)
            if session is not None:
                _own_ids(call, session)
            data = await run_in_threadpool(handler, call)
            response = success(data, status)
        except ApiError as exc:
            response = failure(exc.status, exc.message)
        except LoginThrottled as exc:
            response = failure(429, str(exc))
        except ClientDisconnect:
            # Nobody is left to answer; not a server fault worth a traceback.
            response = failure(400, "the client disconnected before sending its body")
        except TargetError as exc:
            # The store failed (locked past its wait, a damaged row): one line in the log,
            # which names the file; the client learns only that it was the server's fault.
            log.error("store error in %s %s: %s", request.method, path, exc)
            response = failure(500, "internal server error")
        except Exception:
            # The body and headers stay out of the log: they may carry keys and tokens.
            log.error("unexpected error in %s %s", request.method, path, exc_info=True)
            response = failure(500, "internal server error")
        if unread:
            # The body was refused unread (or only in part): what is left of it would be read
            # as the next request, so the connection ends with this answer.
            response.headers["connection"] = "close"
        return response

    return Route(path, endpoint, methods=[method], name=handler.__name__)


def _own_ids(call: Call, session: Session) -> None:
    """403 when the query or body names another user or workspace than the token's."""
    sources = [call.query, call.body if isinstance(call.body, dict) else {}]
    for source in sources:
        for key, own in (("workspace_id", session.workspace_id), ("user_id", session.user_id)):
            value = source.get(key)
            if value not in (None, "", own):
                raise ApiError(403, f"this token may not act for another {key[:-3]}")


def _token(request: Request) -> str:
    header = request.headers.get("authorization", "").strip()
    scheme, _, rest = header.partition(" ")
    token = rest.strip() if scheme.lower() == "bearer" else header
    if not token:
        raise ApiError(401, "authentication required: send the auth_token from login")
    return token


async def _json_body(request: Request, limits: _BodyLimits) -> Any:
    """The parsed body; ApiError for one too large (413), too slow (408) or not JSON (400)."""
    try:
        raw = await asyncio.wait_for(_read_body(request, limits.size), limits.seconds)
    except asyncio.TimeoutError as exc:
        raise ApiError(
            408, f"the request body did not arrive within {limits.seconds:g} seconds"
        ) from exc
    if not raw.strip():
        raise ApiError(400, "the request body is empty; a JSON object is expected")
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, "the request body is not valid JSON") from exc
    except RecursionError as exc:
        raise ApiError(400, "the request body nests too deeply") from exc
    _check_text(value)
    return value


async def _read_body(request: Request, limit: int) -> bytes:
    too_big = ApiError(413, f"request body is larger than {limit} bytes")
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError as exc:
            raise ApiError(400, "invalid Content-Length header") from exc
        if size > limit:
            await _drain(request.stream(), 0)
            raise too_big
    chunks: list[bytes] = []
    size = 0
    stream = request.stream()
    async for chunk in stream:
        size += len(chunk)
        if size > limit:
            # Drain the same iterator: asking the request for a new stream fails once the
            # last chunk has arrived ("Stream consumed"), which depends on how chunks land.
            await _drain(stream, size)
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


def _check_text(value: Any) -> None:
    """422 when a string in ``value`` (a key or a value) holds a lone surrogate.

    ``json.loads`` turns ``"\\ud800"`` into a str that no UTF-8 encoder accepts: stored, it
    made every later read of the product fail. One encoding pass finds out; only a body that
    fails it is walked (without recursion: the parser allows deeper nesting than the
    interpreter's stack) to name where.
    """
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
        return
    except UnicodeEncodeError:
        pass
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                if not _encodable(key):
                    raise ApiError(422, f"a key{_at(where)} {_NOT_TEXT}")
                stack.append((f"{where}.{key}" if where else key, child))
        elif isinstance(item, list):
            stack.extend((f"{where}[{i}]", child) for i, child in enumerate(item))
        elif isinstance(item, str) and not _encodable(item):
            raise ApiError(422, f"{_shown(where) if where else 'the body'} {_NOT_TEXT}")
    raise ApiError(422, f"the body {_NOT_TEXT}")  # not reached: the pass above failed


_NOT_TEXT = "holds a lone surrogate (\\ud800-\\udfff), which is not text JSON can carry"


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _at(where: str) -> str:
    return f" in {_shown(where)}" if where else ""


async def _drain(stream: AsyncIterator[bytes], seen: int) -> None:
    """Read and drop the rest of a body, up to DRAIN_LIMIT_BYTES in all."""
    if seen > DRAIN_LIMIT_BYTES:
        return
    async for chunk in stream:
        seen += len(chunk)
        if seen > DRAIN_LIMIT_BYTES:
            return


async def _http_error(request: Request, exc: Exception) -> Response:
    """Router failures (unknown path, wrong method) in the error envelope."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 404:
        message = f"no such endpoint: {request.method} {request.url.path}"
    elif status == 405:
        message = f"method {request.method} is not allowed on {request.url.path}"
    else:
        message = str(getattr(exc, "detail", "")) or "request failed"
    headers = getattr(exc, "headers", None)
    response = failure(status, message)
    if headers:
        response.headers.update(headers)
    return response


class AccessLog:
    """One log line per request: method, path without query, status, duration.

    Uvicorn's own access log prints the query string, where the wire carries ``public_key``;
    ``serve`` turns it off and this takes its place. No header or body is ever logged. The
    path is logged as the client sent it (still percent-encoded) and escaped: a ``%0A`` in
    it cannot start a forged line.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            raw = scope.get("raw_path") or scope["path"].encode("utf-8", "replace")
            access_log.info(
                "%s %s %d %.1fms",
                printable(str(scope["method"])),
                printable(raw.decode("latin-1")),
                status,
                (time.perf_counter() - started) * 1000,
            )


class _Api:
    """The handlers. Each takes a Call and returns the envelope's data, or raises ApiError."""

    def __init__(self, store: Store, accounts: Accounts, *, full_answers: bool = False) -> None:
        self.store = store
        self.accounts = accounts
        self.full_answers = full_answers

    # --- auth -----------------------------------------------------------------------------

    def login(self, call: Call) -> dict[str, Any]:
        body = _object(call.body)
        fields = [body.get(k) for k in ("private_key", "user_id", "workspace_id")]
        if not all(isinstance(value, str) and value for value in fields):
            raise ApiError(400, "private_key, user_id and workspace_id are required strings")
        private_key, user_id, workspace_id = (str(v) for v in fields)
        token = self.accounts.login(user_id, workspace_id, private_key)
        user = self.accounts.user(user_id) if token else None
        if token is None or user is None:
            # Never echo the key back: the message names no value.
            raise ApiError(401, "invalid credentials for this user and workspace")
        return {
            **user.doc,
            "auth_token": token,
            "public_key": user.public_key,
            "workspace_id": workspace_id,
        }

    def session(self, token: str) -> Session:
        """Who the token speaks for; 401 when it is unknown or expired."""
        session = self.accounts.session(token)
        if session is None:
            raise ApiError(401, "the auth token is invalid or expired; log in again")
        return session

    def builder_validate(self, call: Call) -> dict[str, Any]:
        body = _object(call.body)
        user = self.accounts.user(str(body.get("user_id", "")))
        workspace = self.accounts.workspace(str(body.get("workspace_id", "")))
        if (
            user is None
            or workspace is None
            or workspace.get("user_id") != user.id
            or body.get("public_key") != user.public_key
        ):
            raise ApiError(404, "no builder for this user, workspace and public key")
        token = self.accounts.builder_token(user.id, str(workspace["_id"]))
        if token is None:
            # What the SDK reads as "no session yet": it logs in and opens one.
            raise ApiError(404, "no builder session for this user and workspace; open one")
        return {"token": token, "public_key": user.public_key}

    def builder_session(self, call: Call) -> dict[str, Any]:
        session = _session(call)
        user = self.accounts.user(session.user_id)
        expires_at = self.accounts.open_builder(session)
        return {
            "user_id": session.user_id,
            "workspace_id": session.workspace_id,
            "public_key": user.public_key if user else None,
            "expires_at": int(expires_at * 1000),
        }

    # --- workspaces and apps --------------------------------------------------------------

    def workspace(self, call: Call) -> dict[str, Any]:
        session = _session(call)
        _same_workspace(call.path["workspace_id"], session)
        workspace = self.accounts.workspace(session.workspace_id)
        if workspace is None:
            raise ApiError(404, "no such workspace")
        return workspace

    def app_by_tag(self, call: Call) -> dict[str, Any]:
        session = _session(call)
        _same_workspace(call.path["workspace_id"], session)
        app = self.accounts.app_by_tag(session.workspace_id, call.path["access_tag"])
        if app is None:
            raise ApiError(404, f"no app with access tag {_shown(call.path['access_tag'])}")
        return app

    def app_by_id(self, call: Call) -> dict[str, Any]:
        session = _session(call)
        app = self.accounts.app(call.path["app_id"])
        # Another workspace's app is reported missing rather than forbidden.
        if app is None or app.get("workspace_id") != session.workspace_id:
            raise ApiError(404, f"no app with _id {_shown(call.path['app_id'])}")
        return app

    # --- products and jobs ----------------------------------------------------------------

    def products(self, call: Call) -> list[dict[str, Any]]:
        session = _session(call)
        _same_workspace(call.path["workspace_id"], session)
        status = call.path["status"]
        if status not in LISTED_STATUSES:
            raise ApiError(400, f"status must be one of {', '.join(LISTED_STATUSES)}")
        rows = self.store.products(session.workspace_id)
        docs = [self.store.product_document(row.id) for row in rows]
        return [d for d in docs if d is not None and status in ("all", d.get("status"))]

    def product(self, call: Call) -> dict[str, Any]:
        session = _session(call)
        return self._product(call.path["product_id"], session)

    def _product(self, product_id: str, session: Session) -> dict[str, Any]:
        self._check_product(product_id, session)
        doc = self.store.product_document(product_id)
        if doc is None:  # only if the product vanished under us; no delete exists
            raise ApiError(404, f"no product with _id {_shown(product_id)} in this workspace")
        return doc

    def _check_product(self, product_id: str, session: Session) -> None:
        """404 unless the token's workspace has this product (its jobs are not read)."""
        row = self.store.find_product(product_id, session.workspace_id)
        # find_product also matches names; the wire addresses products by _id only.
        if row is None or row.id != product_id:
            raise ApiError(404, f"no product with _id {_shown(product_id)} in this workspace")

    def put_product(self, call: Call) -> dict[str, Any]:
        """A job create (no ``_id``) or update (its ``_id``); strict wire answers ``{}``."""
        session = _session(call)
        product_id = call.path["product_id"]
        # A write reads only what it touches: the product's row and the one job, never the
        # whole product (on a product of thousands of jobs that was the cost of every PUT).
        self._check_product(product_id, session)
        body = _object(call.body)
        component = body.get("component")
        if component != "job":
            raise ApiError(400, f"unknown component {_shown(component)}: this server knows 'job'")
        fields = {k: v for k, v in body.items() if k not in ENVELOPE_KEYS}
        job_id = body.get("_id")
        if job_id is None:
            self._create_job(product_id, fields)
        elif isinstance(job_id, str) and job_id:
            self._update_job(product_id, job_id, fields)
        else:
            raise ApiError(400, "_id must be the job's id (a non-empty string)")
        if not self.full_answers:
            return {}
        doc = self.store.product_document(product_id)
        if doc is None:  # only if the product vanished under us; no delete exists
            raise ApiError(404, f"no product with _id {_shown(product_id)} in this workspace")
        return doc

    def _create_job(self, product_id: str, fields: dict[str, Any]) -> None:
        job = _canonical(fields)
        if self.store.job_document(product_id, job["tag"]) is not None:
            raise ApiError(
                422, f"a job tagged {_shown(job['tag'])} already exists; send its _id to update it"
            )
        _store_write(lambda: self.store.create_job(product_id, job))  # fmt: skip

    def _update_job(self, product_id: str, job_id: str, fields: dict[str, Any]) -> None:
        existing = self.store.job_by_id(product_id, job_id)
        if not isinstance(existing, dict) or existing.get("damaged"):
            raise ApiError(404, f"no job with _id {_shown(job_id)} in this product")
        merged = {k: v for k, v in existing.items() if k != "_id"}
        merged.update(fields)
        job = _canonical(merged)
        # Write only the fields sent: a concurrent update of other fields is not undone.
        changes = {k: job[k] for k in fields if k in job}
        _store_write(lambda: self.store.update_job(product_id, changes, job_id=job_id))


def _canonical(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The job's wire form, or a 422 naming every schema problem."""
    problems = check_value(dict(fields))
    if problems:
        raise ApiError(422, "; ".join(problems))
    try:
        return Job.from_mapping(fields).to_wire()
    except ValueError as exc:
        raise ApiError(422, str(exc)) from exc


def _store_write(write: Callable[[], object]) -> None:
    try:
        write()
    except JobExists as exc:
        # A tag clash lost to a concurrent writer is the client's problem; any other store
        # error (disk, lock) is ours and stays a 500 whose message names no path.
        raise ApiError(422, str(exc)) from exc


def _shown(value: object) -> str:
    """A client's value in a message: quoted, escaped, cut short."""
    return repr(shorten(str(value), 80))


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    return body


def _session(call: Call) -> Session:
    assert call.session is not None, "handler registered without auth"
    return call.session


def _same_workspace(workspace_id: str, session: Session) -> None:
    if workspace_id != session.workspace_id:
        raise ApiError(403, "this token may not read another workspace")
