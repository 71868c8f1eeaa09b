"""The Target protocol: the four operations Ductape documents for jobs, and nothing more.

Ductape has no delete, so neither has a Target. Every target speaks canonical Jobs; turning
them into wire bodies (and wire errors into TargetError) is the target's own business.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..errors import TargetError
from ..model import Job


@dataclass(frozen=True)
class Catalogue:
    """Tags of the events a product has, by event type, for checking a job's ``event_tag``."""

    action: frozenset[str] = field(default_factory=frozenset)
    notification: frozenset[str] = field(default_factory=frozenset)
    database_action: frozenset[str] = field(default_factory=frozenset)
    function: frozenset[str] = field(default_factory=frozenset)

    def has(self, event_type: str, event_tag: str) -> bool:
        tags: frozenset[str] = getattr(self, event_type)
        return event_tag in tags


@dataclass(frozen=True)
class WriteResult:
    """What a create or update left live."""

    job: Job
    id: str


@dataclass(frozen=True)
class Write:
    """One write of a batch: a create (``job``) or an update (``tag``'s ``changes``)."""

    tag: str
    job: Job | None = None
    changes: Mapping[str, Any] | None = None


class BatchTarget(Protocol):
    """A target that can land many writes in one transaction (the embedded store)."""

    def write_batch(self, writes: Sequence[Write]) -> list[WriteResult | TargetError]:
        """The writes in one transaction, committed or not as a whole: per write, in order,
        what it left live or the refusal (a tag taken, no such job) that left it unwritten.
        Raises TargetError when the transaction did not commit: then none landed."""
        ...


class Target(Protocol):
    """A product's live jobs."""

    def describe(self) -> str:
        """A short label for plans: the kind of target and the product, never a secret."""
        ...

    def fetch_jobs(self) -> LiveJobs:
        """Every live job of the product; malformed ones are reported in it, not raised."""
        ...

    def fetch_job(self, tag: str) -> Job | None:
        """One live job, or None when there is none with that tag."""
        ...

    def create_job(self, job: Job) -> WriteResult:
        """Create a job; raise TargetError if it cannot."""
        ...

    def update_job(self, tag: str, changes: Mapping[str, Any]) -> WriteResult:
        """Change some fields of an existing job (canonical values); raise TargetError if not."""
        ...

    def confirm(
        self, written: Sequence[WriteResult], *, wait: bool = True
    ) -> dict[str, WriteResult | TargetError]:
        """After a run's writes, one read: by tag, each written job as live now holds it, or
        the error that says why it cannot be confirmed (absent: OutcomeUnknown; present
        twice or different from what was sent: TargetError). Where reads may lag writes,
        ``wait`` looks again for a bounded time; ``wait=False`` (after an interrupt) reads
        once."""
        ...

    def catalogue(self, apps: Collection[str] | None = None) -> Catalogue | None:
        """The product's event tags, or None where the target does not know them.

        ``apps``: the access tags of the apps whose actions are wanted (None: every app);
        where an app's actions cost a request, only those are read.
        """
        ...

    def close(self) -> None:
        """Release connections, once no call is in flight (see :class:`CallsInFlight`)."""
        ...


@dataclass(frozen=True)
class MalformedJob:
    """A live job the reconciler cannot read (a bad value written by another client)."""

    tag: str | None
    id: str | None
    message: str


@dataclass(frozen=True)
class LiveJobs:
    """A product's live jobs: those that parse, and those reported and skipped.

    Iterating gives the good jobs, so a LiveJobs stands wherever an iterable of Jobs does.
    """

    jobs: tuple[Job, ...] = ()
    malformed: tuple[MalformedJob, ...] = ()

    def __iter__(self) -> Iterator[Job]:
        return iter(self.jobs)

    def __len__(self) -> int:
        return len(self.jobs)


class CallsInFlight:
    """Counts a target's calls in flight, so that closing it never pulls a connection from
    under a thread still using it (closing a SQLite connection another thread is inside
    can crash the process).

    ``close`` asked for while calls run is done by the last of them as it returns. If the
    process ends first (a worker hung in a request past an interrupt's grace), the
    connections are simply never closed: the operating system reclaims them, and SQLite
    rolls back a transaction that never committed.
    """

    def __init__(self, close: Callable[[], None]) -> None:
        self._close = close
        self._lock = threading.Lock()
        self._calls = 0
        self._pending = False

    @contextmanager
    def call(self) -> Iterator[None]:
        with self._lock:
            self._calls += 1
        try:
            yield
        finally:
            with self._lock:
                self._calls -= 1
                if self._pending and self._calls == 0:
                    self._pending = False
                    self._close()

    def close(self) -> None:
        # Under the lock: no call can start while the connections go.
        with self._lock:
            if self._calls:
                self._pending = True
            else:
                self._pending = False
                self._close()
