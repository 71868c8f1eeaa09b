"""Apply over HTTP against the real local server: cost in requests, updates, token expiry,
and the safety re-reads, on the strict wire (a PUT answers without the product)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.apply import apply_plan
from reconciler.desired import load_desired
from reconciler.errors import AuthError, TargetError
from reconciler.model import Job
from reconciler.plan import build_plan
from reconciler.targets.base import Target, WriteResult
from reconciler.targets.ductape import Credentials, DuctapeTarget, RetryPolicy
from reconciler.targets.local import LocalTarget
from testing.server import RunningServer, login
from testing.wire import access_lines, proxy_to, server_with, target_for

START = 1_796_083_200_000


def job(tag: str, **changes: Any) -> Job:
    base = Job.from_mapping(
        {
            "tag": tag,
            "name": f"Job {tag}",
            "event_type": "function",
            "event_tag": "retry_failed_charges",
            "intervals": 3_600_000,
            "start_at": START,
        }
    )
    return base.replace(changes) if changes else base


def write_manifests(directory: Path, count: int) -> Path:
    directory.mkdir()
    docs = [
        f"name: Load {i}\ntag: load_{i:04d}\nevent_type: function\n"
        f"event_tag: retry_failed_charges\nintervals: {i + 1}m\nstart_at: 2026-12-01T00:00:00Z"
        for i in range(count)
    ]
    (directory / "load.yaml").write_text("\n---\n".join(docs) + "\n")
    return directory


def live_tags(server: RunningServer) -> list[str]:
    doc = server.store.product_document(server.product_id)
    assert doc is not None
    return [j["tag"] for j in doc["jobs"]]


@pytest.mark.slow
def test_200_creates_cost_the_writes_plus_three_requests(tmp_path: Path) -> None:
    """Log in, one product read for the plan, 200 PUTs, one confirming read: 203."""
    with server_with(tmp_path / "count.db") as s, access_lines() as log:
        target = target_for(s)
        try:
            planned = build_plan(
                load_desired([str(write_manifests(tmp_path / "load", 200))]).jobs,
                target.fetch_jobs(),
            )
            report = apply_plan(planned, target, parallelism=8)
        finally:
            target.close()
        log.settle()
        total = len(log.lines)
        puts = log.count("PUT")
        reads = log.count("GET", f"/integrations/integrations/v1/{s.product_id} ")
        tags = [t for t in live_tags(s) if t.startswith("load_")]
    assert report.count("ok") == 200 and not report.failed
    assert all(r.id and len(r.id) == 24 for r in report.results)  # learned by the one read
    assert puts == 200 and reads == 2, [x for x in log.lines if not x.startswith("PUT")]
    assert total <= 200 + 3, total
    assert len(tags) == len(set(tags)) == 200


@pytest.mark.slow
def test_an_update_over_http_end_to_end(tmp_path: Path) -> None:
    with server_with(tmp_path / "update.db") as s:
        target = target_for(s)
        try:
            target.create_job(job("nightly"))
            live = target.fetch_jobs()  # the plan's read: the _id comes from here
            plan = build_plan({"nightly": job("nightly", intervals=60_000)}, live)
            report = apply_plan(plan, target)
            assert [(r.change.tag, r.status) for r in report.results] == [("nightly", "ok")]
            assert target.fetch_job("nightly") == job("nightly", intervals=60_000)
            # A change the server refuses (the tag of another job): a 422, one line.
            target.create_job(job("other"))
            with pytest.raises(TargetError, match=r"^Ductape 422: .*\(update job nightly\)$"):
                target.update_job("nightly", {"tag": "other"})
            with pytest.raises(TargetError, match=r"update job nightly: intervals: "):
                target.update_job("nightly", {"intervals": -5})
            with pytest.raises(TargetError, match="no live job with that tag"):
                target.update_job("no_such_job", {"intervals": 60_000})
        finally:
            target.close()
        assert live_tags(s).count("nightly") == 1


@pytest.mark.slow
def test_an_update_whose_answer_is_lost_is_confirmed_by_a_re_read(tmp_path: Path) -> None:
    with server_with(tmp_path / "lost.db") as s:
        seed = target_for(s)
        seed.create_job(job("nightly"))
        seed.close()
        puts = 0

        def lose_first_put(method: str, path: str, n: int) -> str | None:
            nonlocal puts
            if method == "PUT":
                puts += 1
                return "lost" if puts == 1 else None
            return None

        with proxy_to(s.base_url, lose_first_put) as proxy:
            target = target_for(s, url=proxy.url)  # type: ignore[attr-defined]
            try:
                plan = build_plan({"nightly": job("nightly", name="Renamed")}, target.fetch_jobs())
                report = apply_plan(plan, target)
            finally:
                target.close()
        assert [r.status for r in report.results] == ["ok"]
        assert puts == 1  # the re-read saw it landed: not sent again
        doc = s.store.job_document(s.product_id, "nightly")
        assert doc["name"] == "Renamed"


@pytest.mark.slow
def test_a_create_that_never_shows_is_unknown_not_retried(tmp_path: Path) -> None:
    """The PUT is refused with 503 (it never landed); the target cannot tell that from a
    lost answer, so after looking for the job it reports it unknown and does not resend."""
    with server_with(tmp_path / "unknown.db") as s:
        puts = 0

        def refuse_puts(method: str, path: str, n: int) -> str | None:
            nonlocal puts
            if method == "PUT":
                puts += 1
                return "refuse"
            return None

        with proxy_to(s.base_url, refuse_puts) as proxy:
            target = target_for(s, url=proxy.url)  # type: ignore[attr-defined]
            try:
                plan = build_plan({"a": job("a")}, target.fetch_jobs())
                started = time.monotonic()
                report = apply_plan(plan, target)
                took = time.monotonic() - started
            finally:
                target.close()
        assert [r.status for r in report.results] == ["unknown"]
        assert "outcome unknown; re-run plan" in (report.results[0].error or "")
        assert puts == 1 and took < 5
        assert "Re-run plan" in report.summary()


def lag_reads(method: str, path: str, n: int) -> str | None:
    return "lag" if method == "GET" else None


@pytest.mark.parametrize(("window", "expected"), [(4.0, "ok"), (0.3, "unknown")])
@pytest.mark.slow
def test_updates_whose_reads_lag_are_confirmed_or_unknown_never_failed(
    tmp_path: Path, window: float, expected: str
) -> None:
    """Reads lag writes by 1 s: 20 updates land, and the confirming read shows the old jobs.
    Within the window they are confirmed; past it they are unknown, never failed."""
    tags = [f"u{i:02d}" for i in range(20)]
    with server_with(tmp_path / "lag.db") as s:
        s.put_jobs(job(t).to_wire() for t in tags)
        with proxy_to(s.base_url, lag_reads, lag=1.0) as proxy:
            policy = RetryPolicy(attempts=4, base=0.1, cap=0.5, budget=10, confirm_window=window)
            target = target_for(s, url=proxy.url, retry=policy, timeout=30)  # type: ignore[attr-defined]
            try:
                time.sleep(1.1)  # the plan's read sees the jobs as they are
                plan = build_plan({t: job(t, intervals=60_000) for t in tags}, target.fetch_jobs())
                assert plan.write_count == 20
                report = apply_plan(plan, target, parallelism=4)
            finally:
                target.close()
        assert [r.status for r in report.results] == [expected] * 20, report.summary()
        if expected == "unknown":
            assert "re-run plan" in (report.results[0].error or "")
        docs = s.store.job_documents(s.product_id)
    assert all(d["intervals"] == 60_000 for d in docs if d["tag"] in tags)


@pytest.mark.slow
def test_a_token_expiring_mid_apply_is_renewed_once(tmp_path: Path) -> None:
    with server_with(tmp_path / "ttl.db", token_ttl=1.0) as s, access_lines() as log:
        inner = target_for(s)

        class Slow:
            """The HTTP target with each create slowed, so the run outlives its token."""

            def __getattr__(self, name: str) -> Any:
                return getattr(inner, name)

            def create_job(self, j: Job) -> WriteResult:
                time.sleep(0.25)
                return inner.create_job(j)

        slow: Target = Slow()  # type: ignore[assignment]
        try:
            plan = build_plan({f"t{i}": job(f"t{i}") for i in range(6)}, inner.fetch_jobs())
            report = apply_plan(plan, slow, parallelism=1)
        finally:
            inner.close()
        log.settle()
        logins = log.count("POST", "/login/authKey")
        refused = sum(1 for line in log.lines if " 401 " in line)
        tags = sorted(t for t in live_tags(s) if t.startswith("t"))
    assert report.count("ok") == 6, report.summary()
    assert logins == 2 and refused == 1
    assert tags == [f"t{i}" for i in range(6)]


@pytest.mark.slow
def test_an_expired_ready_token_says_so(tmp_path: Path) -> None:
    with server_with(tmp_path / "token.db", token_ttl=1.0) as s:
        with httpx.Client(base_url=s.base_url, timeout=10) as client:
            token = login(client, s.user_id, s.workspace_id, s.private_key)
        time.sleep(1.2)
        creds = Credentials(s.user_id, s.workspace_id, token=token, public_key=s.public_key)
        target = DuctapeTarget(s.base_url, creds, s.product_id)
        with pytest.raises(AuthError) as caught:
            target.fetch_jobs()
        target.close()
    message = str(caught.value)
    assert message.startswith("Ductape 401:") and "DUCTAPE_TOKEN was refused" in message
    assert "expired" in message and token not in message


@pytest.mark.parametrize("kind", ["local", "http"])
@pytest.mark.slow
def test_fetch_job_on_both_targets(kind: str, tmp_path: Path) -> None:
    with server_with(tmp_path / "one.db") as s:
        target: Target = (
            LocalTarget(str(tmp_path / "local.db")) if kind == "local" else target_for(s)
        )
        try:
            assert target.fetch_job("nightly") is None
            written = target.create_job(job("nightly"))
            assert target.fetch_job("nightly") == job("nightly")
            assert target.fetch_job("other") is None
            confirmed = target.confirm([WriteResult(job("nightly"), written.id)])
            found = confirmed["nightly"]
            assert isinstance(found, WriteResult) and len(found.id) == 24
            # What was sent and what is live differ: the confirmation says so.
            different = target.confirm([WriteResult(job("nightly", name="Other"), "")])
            assert isinstance(different["nightly"], TargetError)
            missing = target.confirm([WriteResult(job("ghost"), "")])
            assert "outcome unknown" in str(missing["ghost"])
        finally:
            target.close()


def test_an_unknown_product_name_suggests_the_closest(tmp_path: Path) -> None:
    with server_with(tmp_path / "names.db") as s:
        target = target_for(s, product="shopp")
        with pytest.raises(TargetError) as caught:
            target.fetch_jobs()
        target.close()
    assert str(caught.value) == "no product named 'shopp' in the workspace; did you mean shop?"


@pytest.mark.slow
def test_only_the_apps_the_manifests_name_are_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An app's actions cost two requests: the catalogue reads only the apps jobs name."""
    from reconciler.commands.plan import plan
    from reconciler.settings import RunSpec

    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (jobs / "a.yaml").write_text(
        "name: A\ntag: a\nevent_type: action\nevent_tag: stripe:list_chargez\n"
        "intervals: 1h\nstart_at: 2026-12-01T00:00:00Z\n"
    )
    with server_with(tmp_path / "apps.db") as s, access_lines() as log:
        monkeypatch.setenv("DUCTAPE_USER_ID", s.user_id)
        monkeypatch.setenv("DUCTAPE_WORKSPACE_ID", s.workspace_id)
        monkeypatch.setenv("DUCTAPE_PRIVATE_KEY", s.private_key)
        spec = RunSpec((str(jobs),), target=s.base_url, origin="option", product=s.product_id)
        (outcome,) = plan([spec])
        log.settle()
    (warning,) = [p for p in outcome.problems if p.field == "event_tag"]
    assert "did you mean 'stripe:list_charges'" in warning.message
    # The seed's product has two apps, stripe and catalogue: only stripe is read.
    assert log.count("GET", "/apps/apps/v1/access/") == 1
    assert log.count("GET", "/access/" + s.workspace_id + "/stripe") == 1
    assert log.count("GET", "/apps/apps/v1/") == 2
