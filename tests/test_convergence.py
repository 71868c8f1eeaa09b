"""Property: for random desired and live jobs, on both targets, with random faults on the
way, applying until the plan is empty converges in a few runs and never makes a tag twice."""

from __future__ import annotations

import itertools
import random
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from reconciler.apply import apply_plan
from reconciler.model import Job
from reconciler.plan import build_plan
from reconciler.targets.base import Target
from reconciler.targets.ductape import Credentials, DuctapeTarget, RetryPolicy
from reconciler.targets.local import LocalTarget
from testing.wire import proxy_to, server_with

TAGS = [f"job_{i}" for i in range(6)]
POLICY = RetryPolicy(attempts=8, base=0.01, cap=0.02, budget=5, confirm_window=0.2)
RUNS = 8  # bounded: with one fault in five, a tag goes unwritten 8 runs running ~never


def a_job(tag: str, intervals: int, executions: int) -> Job:
    return Job.from_mapping(
        {
            "tag": tag,
            "name": f"Job {tag}",
            "event_type": "function",
            "event_tag": "retry_failed_charges",
            "intervals": intervals * 60_000,
            "executions": executions,
            "start_at": 1_796_083_200_000,
        }
    )


jobs = st.dictionaries(
    st.sampled_from(TAGS),
    st.tuples(st.integers(1, 3), st.integers(0, 2)),
    max_size=len(TAGS),
).map(lambda d: {tag: a_job(tag, *values) for tag, values in d.items()})

counter = itertools.count()
SETTINGS = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure stays quick
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def converge(target: Target, desired: dict[str, Job], tags_live: Any) -> None:
    for _ in range(RUNS):
        plan = build_plan(desired, target.fetch_jobs())
        if not plan.has_changes:
            break
        apply_plan(plan, target, parallelism=3)
        tags = tags_live()
        assert len(tags) == len(set(tags)), tags
    assert not build_plan(desired, target.fetch_jobs()).has_changes


@SETTINGS
@given(live=jobs, desired=jobs)
def test_local_target_converges(
    tmp_path: Path, live: dict[str, Job], desired: dict[str, Job]
) -> None:
    target = LocalTarget(str(tmp_path / f"live-{next(counter)}.db"))
    try:
        for job in live.values():
            target.create_job(job)
        converge(target, desired, lambda: [j.tag for j in target.fetch_jobs()])
        final = {j.tag: j for j in target.fetch_jobs()}
        assert all(final[tag] == job for tag, job in desired.items())
    finally:
        target.close()


def test_http_target_converges_through_faults(tmp_path: Path) -> None:
    with server_with(tmp_path / "prop.db") as s:
        rng = random.Random(7)

        def fault(method: str, path: str, n: int) -> str | None:
            return rng.choice(["lost", "refuse"]) if rng.random() < 0.2 else None

        with proxy_to(s.base_url, fault) as proxy:

            @SETTINGS
            @given(live=jobs, desired=jobs)
            def check(live: dict[str, Job], desired: dict[str, Job]) -> None:
                name = f"product-{next(counter)}"
                row = s.store.ensure_product(name, s.workspace_id, {"status": "private"})
                for job in live.values():
                    s.store.create_job(row.id, job.to_wire())

                def tags_live() -> list[str]:
                    doc = s.store.product_document(row.id)
                    assert doc is not None
                    return [j["tag"] for j in doc["jobs"]]

                creds = Credentials(s.user_id, s.workspace_id, private_key=s.private_key)
                target = DuctapeTarget(proxy.url, creds, row.id, retry=POLICY)  # type: ignore[attr-defined]
                try:
                    converge(target, desired, tags_live)
                finally:
                    target.close()

            check()
