"""The snapshot file: what a plan needs from a product, without a secret. Its one owner.

``reconciler snapshot --out live.json`` saves a product's jobs as read, the tags its catalogue
offers, its id and name, the target and the time it was read; ``--target snapshot:live.json``
plans against that file with no credentials (``targets/snapshot.py``). The format is
``reconciler-snapshot`` version 1, described by ``schemas/snapshot.schema.json``.

A product document carries secrets (its own ``private_key``, apps' and environments' ``auth``
blocks) beside what a plan needs, so a snapshot is built from an allowlist, never by removing
known secrets: a product field added tomorrow stays out until someone names it here. Only the
job fields of each job (with JSON scalar values), the catalogue's tags, and the product's id
and name are kept.

The file travels as a CI artifact, so it is read back as untrusted input: bounded in size and
depth (``jsonfile``) and checked against the schema, before any job is rebuilt from it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import __version__
from .errors import UsageError
from .files import write_atomic
from .jsonfile import load_bounded
from .model import FIELDS, format_timestamp, parse_timestamp
from .schema import document_problems

FORMAT = "reconciler-snapshot"
FORMAT_VERSION = 1
SCHEMA = "snapshot.schema.json"
# A product of 100,000 jobs is about 20 MB of snapshot; past this the file is taken to be
# broken or hostile, not read into memory.
MAX_BYTES = 64 * 1024 * 1024
# The format nests four deep (file, catalogue, apps, an app's tags); a little room, no more.
MAX_DEPTH = 8
# The keys of a job document a snapshot keeps: the job's fields and the id the service gave.
JOB_KEYS: tuple[str, ...] = ("_id", *FIELDS)
_SCALARS = (str, int, float, bool, type(None))


@dataclass(frozen=True)
class Catalogue:
    """A product's catalogue as tags: each app's actions (by access tag), each database's
    actions (by database tag), the notifications and the functions."""

    apps: Mapping[str, Sequence[str]] = field(default_factory=dict)
    notifications: Sequence[str] = ()
    functions: Sequence[str] = ()
    databases: Mapping[str, Sequence[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, tags: Mapping[str, Any], app_actions: Mapping[str, Sequence[str]]) -> Catalogue:
        """From a target's catalogue tags (``targets.wire.CatalogueTags``) and the actions
        of its apps; an app whose actions are unknown has none."""
        apps = {app: list(app_actions.get(app, ())) for app in tags["apps"]}
        return cls(apps, tags["notifications"], tags["functions"], tags["databases"])


@dataclass(frozen=True)
class Source:
    """What a target read for a snapshot: the product's id and name, its job documents as
    read (still to be allowlisted), and its catalogue (None: the product lists none)."""

    product_id: str
    product_name: str
    jobs: Sequence[object]
    catalogue: Catalogue | None


@dataclass(frozen=True)
class Snapshot:
    """A snapshot read back: what it was taken from, when, and the allowlisted Source."""

    path: str
    target: str
    taken_ms: int
    source: Source


def build(source: Source, target: str, taken_ms: int) -> dict[str, Any]:
    """The snapshot document of ``source``: only allowlisted keys and values reach it."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "written_by": f"reconciler {__version__}",
        "taken_at": format_timestamp(taken_ms),
        "target": str(target),
        "product": {"id": str(source.product_id), "name": str(source.product_name)},
        "jobs": [_job(doc) for doc in source.jobs],
        "catalogue": _catalogue(source.catalogue) if source.catalogue is not None else None,
    }


def _job(doc: object) -> dict[str, Any] | None:
    """The job fields of a job document, each only if it is a JSON scalar; None for a
    document that is not an object (read back, it is reported as malformed, as live)."""
    if not isinstance(doc, Mapping):
        return None
    return {k: doc[k] for k in JOB_KEYS if k in doc and _is_scalar(doc[k])}


def _is_scalar(value: object) -> bool:
    # NaN and Infinity are not JSON: the reader refuses them, so they are not written.
    return isinstance(value, _SCALARS) and not (
        isinstance(value, float) and not math.isfinite(value)
    )


def _tags(items: Sequence[object]) -> list[str]:
    return [t for t in items if isinstance(t, str)]


def _catalogue(catalogue: Catalogue) -> dict[str, Any]:
    return {
        "apps": {str(k): _tags(v) for k, v in catalogue.apps.items()},
        "notifications": _tags(catalogue.notifications),
        "functions": _tags(catalogue.functions),
        "databases": {str(k): _tags(v) for k, v in catalogue.databases.items()},
    }


def write(path: str, document: Mapping[str, Any]) -> None:
    """Write a snapshot document whole (or leave ``path`` as it was); UsageError if not."""
    text = json.dumps(document, indent=1, ensure_ascii=False, allow_nan=False) + "\n"
    try:
        write_atomic(path, text, parents=True)
    except OSError as exc:
        raise UsageError(f"cannot write the snapshot {path}: {exc.strerror or exc}") from exc


def read(path: str) -> Snapshot:
    """A snapshot file, bounded, checked against the schema; UsageError of one line if not."""
    data = load_bounded(path, "snapshot", MAX_BYTES, MAX_DEPTH)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise UsageError(
            f'{path}: not a reconciler snapshot (no "format": "{FORMAT}"); '
            "write one with: reconciler snapshot --out FILE"
        )
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise UsageError(
            f"{path}: snapshot format_version {json.dumps(version)[:20]}; this reconciler reads "
            f"{FORMAT_VERSION}: take the snapshot again with this version"
        )
    problems = document_problems(SCHEMA, data)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise UsageError(f"{path}: not a valid snapshot: {problems[0]}{more}")
    try:
        taken = parse_timestamp(data["taken_at"])
    except ValueError as exc:
        raise UsageError(f"{path}: taken_at: {exc}") from exc
    catalogue = data["catalogue"]
    return Snapshot(
        path,
        data["target"],
        taken,
        Source(
            data["product"]["id"],
            data["product"]["name"],
            tuple(data["jobs"]),
            Catalogue(**catalogue) if catalogue is not None else None,
        ),
    )
