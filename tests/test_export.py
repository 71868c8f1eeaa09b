"""Export: live jobs written as manifests plan back to no changes, on both targets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.desired import load_desired
from reconciler.model import EventType, Job
from reconciler.targets.local import LocalTarget
from testing.cli import invoke as run
from testing.server import RunningServer

MAX_SAFE = 2**53 - 1

# Names as the job schema allows them: no control, reordering or zero-width characters.
texts = st.text(
    st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Zl", "Zp")), min_size=1, max_size=40
).filter(lambda s: s.strip() != "")
# Tags as the job schema allows them: a letter or digit, then letters, digits and _.:-
tags = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.:-]{0,30}\Z")
jobs = st.builds(
    Job,
    tag=tags,
    name=texts,
    event_type=st.sampled_from(list(EventType)),
    event_tag=st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.:/-]{0,30}\Z"),
    executions=st.integers(0, 1000),
    intervals=st.one_of(
        st.integers(60_000, 10**10), st.sampled_from([60_000, 5_400_000, 86_400_000])
    ),
    start_at=st.integers(1_000_000_000_000, 4_102_444_800_000),  # 2001 to 2100
)
job_sets = st.lists(jobs, max_size=12, unique_by=lambda j: j.tag)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(live=job_sets)
@pytest.mark.slow
def test_export_then_plan_has_no_changes_embedded(
    tmp_path_factory: pytest.TempPathFactory, live: list[Job]
) -> None:
    base = tmp_path_factory.mktemp("export")
    db = base / "live.db"
    target = LocalTarget(str(db), "shop")
    try:
        for job in live:
            target.create_job(job)
    finally:
        target.close()
    spec = f"sqlite:///{db}"
    code, out, err = run("export", "--target", spec, "--product", "shop", "--out", str(base / "m"))
    assert code == 0, err
    assert f"Exported {len(live)} job(s)" in out
    if not live:
        return
    desired = load_desired([str(base / "m")])
    assert desired.errors == ()
    assert desired.jobs == {job.tag: job for job in live}
    code, out, err = run(
        "plan", str(base / "m"), "--target", spec, "--product", "shop", "--detailed-exitcode"
    )
    assert code == 0, out + err


def test_export_refuses_to_overwrite_and_writes_inert_files(tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    target = LocalTarget(str(db), "shop")
    unmanageable = Job(
        "../../etc/x\nevil: 1", "x\x1b[31m", EventType.ACTION, "a", 0, 90_000, 1_796_083_200_000
    )
    hostile = Job(
        "billing:retry.v2",
        'name "with" quotes\\ and a # and: colons \u00e9\U0001f600',
        EventType.ACTION,
        "app:act",
        0,
        90_000,
        1_796_083_200_123,
    )
    target.create_job(hostile)
    target.create_job(unmanageable)
    target.close()
    out = tmp_path / "m"
    spec = f"sqlite:///{db}"
    # A repository keeping a copy of the schema, for the modeline to point to.
    (tmp_path / ".git").mkdir()
    assert run("schema", "--write", str(tmp_path / "schemas"))[0] == 0
    code, _, err = run("export", "--target", spec, "--product", "shop", "--out", str(out))
    assert code == 0
    assert err == (
        "warning: live job '../../etc/x\\nevil: 1' cannot be written as a manifest (the job "
        "schema refuses one of its values); skipped: rename it in Ductape first\n"
    )
    (written,) = os.listdir(out)
    assert written == "billing_retry.v2.yaml"  # stays in the directory, visible
    text = (out / written).read_text()
    assert text.splitlines()[0].startswith("# yaml-language-server: $schema=")
    assert "intervals: 1m30s" in text and "start_at: 2026-12-01T00:00:00.123Z" in text
    assert "\x1b" not in text
    assert load_desired([str(out)]).jobs == {hostile.tag: hostile}
    code, _, err = run("export", "--target", spec, "--product", "shop", "--out", str(out))
    assert code == 1 and "already exist(s); pass --force to overwrite" in err
    code, _, _ = run("export", "--target", spec, "--product", "shop", "--out", str(out), "--force")
    assert code == 0


@pytest.mark.slow
def test_export_two_hundred_jobs_through_the_local_server(
    ductape_server: RunningServer, tmp_path: Path
) -> None:
    ductape_server.put_jobs(
        {
            "tag": f"onboard_{i:03d}",
            "name": f"Onboarded job {i}",
            "event_type": "function",
            "event_tag": "f",
            "executions": i % 4,
            "intervals": 60_000 * (i + 1),
            "start_at": 1_796_083_200_000 + i,
        }
        for i in range(200)
    )
    env = ductape_server.client_env()
    out = tmp_path / "exported"
    code, text, err = run("export", "--out", str(out), "--only", "onboard_*", env=env)
    assert code == 0, err
    assert "Exported 200 job(s)" in text and "1 left out by --only/--exclude" in text
    assert len(os.listdir(out)) == 200
    code, text, err = run("plan", str(out), "--detailed-exitcode", "--only", "onboard_*", env=env)
    assert code == 0, text + err
    assert "Plan: 0 to create, 0 to update, 200 unchanged." in text


@pytest.mark.slow
def test_export_then_plan_has_no_changes_through_the_local_server(
    ductape_server: RunningServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The same round trip over the wire: random live sets written with the PUT, exported
    through the HTTP target, planned back with no changes. Each example has its own tag
    prefix in the one server, and --only keeps the examples apart."""
    env = ductape_server.client_env()
    examples = iter(range(1000))

    @settings(max_examples=10, deadline=None)
    @given(live=job_sets)
    def round_trip(live: list[Job]) -> None:
        prefix = f"ex{next(examples)}x"
        jobs = [Job(prefix + j.tag, *_rest(j)) for j in live]
        ductape_server.put_jobs(job.to_wire() for job in jobs)
        out = tmp_path_factory.mktemp("exported")
        code, text, err = run("export", "--out", str(out), "--only", f"{prefix}*", env=env)
        assert code == 0, err
        assert f"Exported {len(jobs)} job(s)" in text
        if not jobs:
            return
        assert load_desired([str(out)]).jobs == {job.tag: job for job in jobs}
        code, text, err = run(
            "plan", str(out), "--detailed-exitcode", "--only", f"{prefix}*", env=env
        )
        assert code == 0, text + err

    round_trip()


def _rest(job: Job) -> tuple[object, ...]:
    return (job.name, job.event_type, job.event_tag, job.executions, job.intervals, job.start_at)
