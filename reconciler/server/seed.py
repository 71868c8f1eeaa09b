"""The seed file: one user, one workspace and its products, loaded into the SQLite file.

The format is documented at the top of ``examples/seed.yaml``. Loading is idempotent: what
exists is kept (live jobs are never overwritten, so a seeded job changed by ``apply`` stays
changed); only the user's private key is refreshed from the file.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import TargetError, UsageError
from ..manifests import load_yaml
from ..model import Job
from ..schema import check_value
from ..strings import is_object_id
from ..targets.store import Store, new_id
from .accounts import Accounts

PRODUCT_STATUSES = ("draft", "private", "public")


@dataclass(frozen=True)
class SeedProduct:
    name: str
    id: str


@dataclass(frozen=True)
class SeedInfo:
    """What a client needs to reach the seeded account. The private key stays out of repr."""

    path: str
    user_id: str
    workspace_id: str
    workspace_name: str
    public_key: str
    products: tuple[SeedProduct, ...]
    private_key: str = field(repr=False)
    token_ttl: float | None = None  # seconds a token lives, when the seed sets it


def load_seed(store: Store, path: str) -> SeedInfo:
    """Load the seed file at ``path`` into ``store``; loading it again creates nothing."""
    # The manifests' loader: timestamps stay text, so a seeded job's start_at goes through
    # the model's own parser and its zone rule.
    data = load_yaml(path, "seed file")
    where = f"seed file {path}"
    root = _mapping(data, where)
    user = _mapping(root.get("user"), f"{where}: user")
    workspace = _mapping(root.get("workspace"), f"{where}: workspace")
    user_id = _hex_id(user.get("id"), f"{where}: user.id")
    private_key = _text(user.get("private_key"), f"{where}: user.private_key")
    workspace_id = _hex_id(workspace.get("id"), f"{where}: workspace.id")
    workspace_name = _text(workspace.get("name", "Local workspace"), f"{where}: workspace.name")
    products = root.get("products") or []
    if not isinstance(products, list):
        raise UsageError(f"{where}: products must be a list")
    token_ttl = root.get("token_ttl")
    if token_ttl is not None and (
        isinstance(token_ttl, bool)
        or not isinstance(token_ttl, (int, float))
        or not 0 < token_ttl <= 30 * 24 * 3600
    ):
        raise UsageError(f"{where}: token_ttl must be a number of seconds, above 0, up to 30 days")

    accounts = Accounts(store)
    profile = {k: v for k, v in user.items() if k in ("email", "name", "public_key")}
    account = accounts.upsert_user(user_id, private_key, profile)
    accounts.upsert_workspace(workspace_id, user_id, workspace_name)
    seeded = tuple(
        _load_product(store, accounts, workspace_id, item, f"{where}: products[{i}]")
        for i, item in enumerate(products)
    )
    return SeedInfo(
        path=path,
        user_id=user_id,
        workspace_id=workspace_id,
        workspace_name=workspace_name,
        public_key=account.public_key,
        products=seeded,
        private_key=private_key,
        token_ttl=float(token_ttl) if token_ttl is not None else None,
    )


def _load_product(
    store: Store, accounts: Accounts, workspace_id: str, raw: Any, where: str
) -> SeedProduct:
    """Check one seed product, build its document and write it with its jobs."""
    item = _mapping(raw, where)
    name = _text(item.get("name"), f"{where}.name")
    status = item.get("status", "private")
    if status not in PRODUCT_STATUSES:
        raise UsageError(f"{where}.status must be one of {', '.join(PRODUCT_STATUSES)}")
    catalogue = _mapping(item.get("catalogue") or {}, f"{where}.catalogue")
    jobs = item.get("jobs") or []
    if not isinstance(jobs, list):
        raise UsageError(f"{where}.jobs must be a list")
    wire_jobs = [_job(job, f"{where}.jobs[{i}]") for i, job in enumerate(jobs)]
    doc = _product_document(item, name, status, workspace_id)
    doc.update(_catalogue(accounts, workspace_id, catalogue, f"{where}.catalogue"))
    if "_id" in item:
        doc["_id"] = _hex_id(item["_id"], f"{where}._id")
    return _write_product(store, doc, wire_jobs, where)


def _product_document(
    item: Mapping[str, Any], name: str, status: str, workspace_id: str
) -> dict[str, Any]:
    """A product's document, its catalogue aside."""
    return {
        "name": name,
        "description": str(item.get("description", "")),
        "status": status,
        "workspace_id": workspace_id,
        "envs": [{"_id": new_id(), "slug": "prd", "name": "Production"}],
        "caches": [],
        "features": [],
        # Ductape products carry their own key; a random one here lets tests prove that
        # clients never print it.
        "private_key": f"product_dev_{secrets.token_hex(16)}",
    }


def _catalogue(
    accounts: Accounts, workspace_id: str, catalogue: Mapping[str, Any], where: str
) -> dict[str, Any]:
    """The product's apps (registered with the apps service), functions, notifications and
    database actions, as the product document holds them."""
    apps = []
    for i, app in enumerate(catalogue.get("apps") or []):
        app_where = f"{where}.apps[{i}]"
        app = _mapping(app, app_where)
        access_tag = _text(app.get("access_tag"), f"{app_where}.access_tag")
        actions = _tags(app.get("actions"), f"{app_where}.actions")
        app_id = accounts.ensure_app(workspace_id, access_tag, actions)
        apps.append(
            {"_id": app_id, "access_tag": access_tag, "actions": [{"tag": t} for t in actions]}
        )
    databases = []
    for i, database in enumerate(catalogue.get("databases") or []):
        db_where = f"{where}.databases[{i}]"
        database = _mapping(database, db_where)
        databases.append(
            {
                "_id": new_id(),
                "tag": _text(database.get("tag"), f"{db_where}.tag"),
                "actions": [
                    {"tag": t} for t in _tags(database.get("actions"), f"{db_where}.actions")
                ],
            }
        )
    return {
        "apps": apps,
        "functions": [
            {"_id": new_id(), "tag": t}
            for t in _tags(catalogue.get("functions"), f"{where}.functions")
        ],
        "notifications": [
            {"_id": new_id(), "tag": t}
            for t in _tags(catalogue.get("notifications"), f"{where}.notifications")
        ],
        "databases": databases,
    }


def _write_product(
    store: Store, doc: dict[str, Any], wire_jobs: list[dict[str, Any]], where: str
) -> SeedProduct:
    """Create the product (or find it, when seeded before) and the jobs it lacks."""
    name = doc["name"]
    try:
        row = store.ensure_product(name, doc["workspace_id"], doc)
    except TargetError as exc:
        raise UsageError(f"{where}: cannot create product {name!r}: {exc}") from exc
    if "_id" in doc and row.id != doc["_id"]:
        raise UsageError(f"{where}: product {name!r} already exists with _id {row.id}")
    for job in wire_jobs:
        # Only absent jobs are created: a live job may have been changed since.
        if store.job_document(row.id, job["tag"]) is None:
            store.create_job(row.id, job)
    return SeedProduct(name, row.id)


def _job(raw: Any, where: str) -> dict[str, Any]:
    problems = check_value(raw)
    if problems:
        raise UsageError(f"{where}: {'; '.join(problems)}")
    try:
        return Job.from_mapping(raw).to_wire()
    except ValueError as exc:
        raise UsageError(f"{where}: {exc}") from exc


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise UsageError(f"{where} must be a mapping")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"{where} must be a non-empty string")
    return value


def _hex_id(value: Any, where: str) -> str:
    if not is_object_id(value):
        raise UsageError(f"{where} must be 24 lower-case hex characters")
    return str(value)


def _tags(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise UsageError(f"{where} must be a list of tags")
    return [_text(tag, where) for tag in value]
