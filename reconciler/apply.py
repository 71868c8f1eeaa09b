"""Run a plan's writes against a target: bounded concurrency, one result per job.

A job that fails does not stop the others. Results come back in plan order whatever order
the writes finished in, so reports and logs are stable.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .errors import ReconcilerError
from .plan import Action, Change, Plan
from .targets.base import Target

DEFAULT_PARALLELISM = 4


@dataclass(frozen=True)
class Result:
    """The outcome of one planned write."""

    change: Change
    ok: bool
    id: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Report:
    results: tuple[Result, ...]

    @property
    def failed(self) -> tuple[Result, ...]:
        return tuple(r for r in self.results if not r.ok)

    def summary(self) -> str:
        created = sum(1 for r in self.results if r.ok and r.change.action is Action.CREATE)
        updated = sum(1 for r in self.results if r.ok and r.change.action is Action.UPDATE)
        return f"Apply: {created} created, {updated} updated, {len(self.failed)} failed."


def apply_plan(
    plan: Plan,
    target: Target,
    parallelism: int = DEFAULT_PARALLELISM,
    on_result: Callable[[Result], None] | None = None,
) -> Report:
    """Create and update what the plan says; call ``on_result`` as each job finishes."""
    work = plan.of(Action.CREATE, Action.UPDATE)

    def run(change: Change) -> Result:
        try:
            if change.action is Action.CREATE:
                assert change.desired is not None
                written = target.create_job(change.desired)
            else:
                written = target.update_job(change.tag, {f.field: f.new for f in change.fields})
        except ReconcilerError as exc:
            result = Result(change, False, error=str(exc))
        else:
            result = Result(change, True, id=written.id)
        if on_result is not None:
            on_result(result)
        return result

    if parallelism <= 1 or len(work) <= 1:
        return Report(tuple(run(change) for change in work))
    with ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="apply") as pool:
        return Report(tuple(pool.map(run, work)))
