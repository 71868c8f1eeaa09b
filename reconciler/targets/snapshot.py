"""The snapshot target: a product's jobs and catalogue from a snapshot file, read-only.

``--target snapshot:live.json`` plans, checks drift and checks references against a file
written by ``reconciler snapshot`` (``reconciler/snapshot.py`` owns the format), so a pull
request's plan needs no Ductape credential at all. Every report names the snapshot and its
age (:meth:`SnapshotTarget.describe`); ``RECONCILER_MAX_AGE`` (a duration such as ``24h``)
makes an older snapshot an error. Writes are refused: a snapshot is not the product.

Jobs come back through the same code as live jobs (``wire.live_jobs``), and the catalogue
through the same code as the HTTP target's (``wire.catalogue``, with only the apps asked for),
so a plan against a fresh snapshot says what the live plan says.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from ..clock import now_ms
from ..errors import TargetError, UsageError
from ..model import Job, format_duration, format_timestamp, parse_duration
from ..snapshot import Snapshot, Source, build, read
from ..strings import shorten
from .base import Catalogue, LiveJobs, Target, WriteResult
from .wire import CatalogueTags, catalogue, live_jobs

PREFIX = "snapshot:"
MAX_AGE_VARIABLE = "RECONCILER_MAX_AGE"
READ_ONLY = (
    "a snapshot is read-only: apply writes to the live product (name its URL with --target); "
    "nothing was changed"
)


class ReadOnly(TargetError):
    """A write was asked of a snapshot."""


class StaleSnapshot(TargetError):
    """The snapshot is older than RECONCILER_MAX_AGE allows."""


def max_age(env: Mapping[str, str]) -> tuple[int, str] | None:
    """``RECONCILER_MAX_AGE`` as (milliseconds, as written), or None when it is unset."""
    text = env.get(MAX_AGE_VARIABLE, "").strip()
    if not text:
        return None
    try:
        return parse_duration(text), text
    except ValueError as exc:
        raise UsageError(f"{MAX_AGE_VARIABLE}={shorten(text, 40)!r}: {exc}") from exc


def age_text(ms: int) -> str:
    """A snapshot's age in its largest sensible unit: ``45s``, ``12m``, ``22h``, ``3d``."""
    seconds = max(0, ms) // 1000
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 72 * 3600:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


class SnapshotTarget:
    """A product as a snapshot file saw it. Read when opened, so a bad file stops the run
    before anything else; "now" is read once, so every report of a run says the same age."""

    def __init__(
        self,
        path: str,
        product: str | None = None,
        *,
        max_age: tuple[int, str] | None = None,
    ) -> None:
        self.path = path
        self.snapshot: Snapshot = read(path)
        source = self.snapshot.source
        if product and product not in (source.product_id, source.product_name):
            raise UsageError(
                f"{path} is a snapshot of product {shorten(source.product_name, 60)!r}, "
                f"not {shorten(product, 60)!r}"
            )
        self.age_ms = now_ms() - self.snapshot.taken_ms
        if max_age is not None and self.age_ms > max_age[0]:
            minutes = max(0, self.age_ms) // 60_000 * 60_000
            raise StaleSnapshot(
                f"{path} was taken {self._taken()}, {format_duration(minutes) or '0m'} ago: "
                f"older than {MAX_AGE_VARIABLE}={max_age[1]}; take a new one with: "
                f"reconciler snapshot --out {path}"
            )
        self._live = live_jobs(source.jobs)

    def _taken(self) -> str:
        return format_timestamp(self.snapshot.taken_ms // 1000 * 1000)

    def describe(self) -> str:
        name = shorten(self.snapshot.source.product_name, 60)
        return (
            f"{PREFIX}{self.path} (product {name}, taken {self._taken()}, "
            f"{age_text(self.age_ms)} old)"
        )

    def fetch_jobs(self) -> LiveJobs:
        return self._live

    def fetch_job(self, tag: str) -> Job | None:
        return next((job for job in self._live if job.tag == tag), None)

    def create_job(self, job: Job) -> WriteResult:
        raise ReadOnly(READ_ONLY)

    def update_job(self, tag: str, changes: Mapping[str, Any]) -> WriteResult:
        raise ReadOnly(READ_ONLY)

    def confirm(
        self, written: Sequence[WriteResult], *, wait: bool = True
    ) -> dict[str, WriteResult | TargetError]:
        return {w.job.tag: ReadOnly(READ_ONLY) for w in written}

    def catalogue(self, apps: Collection[str] | None = None) -> Catalogue | None:
        """The catalogue as the HTTP target builds it: every app's actions are in the file,
        and only those of ``apps`` are used, so "did you mean" hints match a live plan's."""
        saved = self.snapshot.source.catalogue
        if saved is None:
            return None
        tags = CatalogueTags(
            apps=list(saved.apps),
            notifications=list(saved.notifications),
            functions=list(saved.functions),
            databases={k: list(v) for k, v in saved.databases.items()},
        )
        actions = {a: v for a, v in saved.apps.items() if apps is None or a in apps}
        return catalogue(tags, actions)

    def close(self) -> None:
        """Nothing to release: the file was read whole when the target was opened."""


def open_snapshot(
    spec: str, product: str | None, env: Mapping[str, str], named: str = "--target"
) -> SnapshotTarget:
    """The target a ``snapshot:PATH`` string names (``named``: where it was written)."""
    path = spec[len(PREFIX) :]
    if not path.strip():
        raise UsageError(f"{named} {shorten(spec)}: no file path after {PREFIX}")
    return SnapshotTarget(os.path.normpath(path), product, max_age=max_age(env))


@runtime_checkable
class Snapshottable(Protocol):
    """A target that can say what a snapshot needs (the HTTP and SQLite targets)."""

    def snapshot_source(self) -> Source: ...


def take(target: Target) -> dict[str, Any]:
    """A snapshot document of the target's product, read now. Builds from an allowlist."""
    if not isinstance(target, Snapshottable):
        raise UsageError(
            f"{target.describe()}: cannot be snapshotted; name a Ductape URL or a sqlite:/// file"
        )
    taken = now_ms()
    return build(target.snapshot_source(), target.describe(), taken)
