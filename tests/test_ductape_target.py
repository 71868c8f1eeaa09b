"""The Ductape HTTP target end to end: the CLI against the real local server on 127.0.0.1.

Fault tests put a small proxy between the two that answers 503 or loses answers for a
bounded, deterministic share of requests; the server behind it is the real one.
"""

from __future__ import annotations

import itertools
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from reconciler.errors import AuthError, TargetError, UsageError
from reconciler.targets.ductape import Credentials, DuctapeTarget, RetryPolicy
from reconciler.targets.ductape.auth import shared_logins
from testing.cli import invoke
from testing.process import EXAMPLE_SEED
from testing.server import RunningServer, ServerFactory, login, serve_app
from testing.wire import access_lines, forward

EXAMPLES = Path(__file__).parent.parent / "examples" / "jobs"
FAST_RETRY = RetryPolicy(attempts=8, base=0.01, cap=0.05, budget=20, confirm_window=0.3)


def env_for(server: RunningServer, **overrides: str) -> dict[str, str]:
    """The server's client environment without RECONCILER_TARGET: these tests pass --target."""
    env = server.client_env(**overrides)
    del env["RECONCILER_TARGET"]
    return env


def cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    return invoke(*args, env=env)


@pytest.fixture
def jobs_dir(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLES, tmp_path / "jobs")
    return tmp_path / "jobs"


@pytest.mark.slow
def test_plan_apply_plan_against_the_server(ductape_server: RunningServer, jobs_dir: Path) -> None:
    env = env_for(ductape_server)
    url = ductape_server.base_url
    code, out, err = cli(env, "plan", str(jobs_dir), "--target", url, "--detailed-exitcode")
    assert code == 2, err
    assert f"Target: {url} (product shop)" in out
    assert "Plan: 6 to create, 0 to update, 0 unchanged, 1 orphan." in out
    assert "- orphan purge_expired_sessions" in out

    code, out, err = cli(env, "apply", str(jobs_dir), "--target", url, "--auto-approve")
    assert code == 0, err
    assert "Apply: 6 created, 0 updated, 0 failed." in out

    code, out, _ = cli(env, "plan", str(jobs_dir), "--target", url, "--detailed-exitcode")
    assert code == 0, out
    assert "Plan: 0 to create, 0 to update, 6 unchanged, 1 orphan." in out

    # Someone changes a job on the server by hand: the next plan shows it as an update.
    with httpx.Client(base_url=url) as client:
        token = login(
            client,
            ductape_server.user_id,
            ductape_server.workspace_id,
            ductape_server.private_key,
        )
        product = client.get(
            f"/integrations/integrations/v1/{ductape_server.product_id}",
            params={
                "workspace_id": ductape_server.workspace_id,
                "user_id": ductape_server.user_id,
                "public_key": ductape_server.public_key,
            },
            headers={"Authorization": f"Bearer {token}"},
        ).json()["data"]
        job_id = next(j["_id"] for j in product["jobs"] if j["tag"] == "weekly_digest")
        answer = client.put(
            f"/integrations/integrations/v1/{ductape_server.product_id}",
            json={
                "component": "job",
                "_id": job_id,
                "intervals": 86_400_000,
                "user_id": ductape_server.user_id,
                "workspace_id": ductape_server.workspace_id,
                "public_key": ductape_server.public_key,
            },
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 200, answer.text
    code, out, _ = cli(env, "plan", str(jobs_dir), "--target", url, "--detailed-exitcode")
    assert code == 2
    assert "~ update weekly_digest" in out
    assert "intervals: 86400000 -> 604800000 (1d -> 1w)" in out


@pytest.mark.slow
def test_product_by_id_and_token_login(ductape_server: RunningServer, jobs_dir: Path) -> None:
    env = env_for(ductape_server, DUCTAPE_PRODUCT=ductape_server.product_id)
    code, out, _ = cli(env, "plan", str(jobs_dir), "--target", ductape_server.base_url)
    assert code == 0 and "1 orphan" in out


@pytest.mark.slow
def test_wrong_private_key_is_one_line_and_never_shown(
    ductape_server: RunningServer, jobs_dir: Path
) -> None:
    wrong = "wrong-key-7f3a9c-please-do-not-print"
    env = env_for(ductape_server, DUCTAPE_PRIVATE_KEY=wrong)
    code, out, err = cli(
        env, "apply", str(jobs_dir), "--target", ductape_server.base_url, "--auto-approve"
    )
    assert code == 1
    assert err.strip().count("\n") == 0, err
    assert err.startswith("error: Ductape 401:") and "(log in)" in err
    assert wrong not in out + err
    assert ductape_server.private_key not in out + err


@pytest.mark.slow
def test_missing_credentials_and_unknown_product(
    ductape_server: RunningServer, jobs_dir: Path
) -> None:
    env = env_for(ductape_server)
    del env["DUCTAPE_WORKSPACE_ID"]
    code, _, err = cli(env, "plan", str(jobs_dir), "--target", ductape_server.base_url)
    assert code == 1 and err.strip() == (
        f"error: --target {ductape_server.base_url}: set DUCTAPE_WORKSPACE_ID"
    )
    env = env_for(ductape_server, DUCTAPE_PRODUCT="no-such-product")
    code, _, err = cli(env, "plan", str(jobs_dir), "--target", ductape_server.base_url)
    assert code == 1 and "no product named 'no-such-product'" in err


@pytest.mark.slow
def test_config_file_names_target_and_product(
    ductape_server: RunningServer, jobs_dir: Path
) -> None:
    (jobs_dir / ".reconciler.yaml").write_text(
        f"target: {ductape_server.base_url}\nproduct: {ductape_server.product_name}\n"
    )
    env = env_for(ductape_server)
    del env["DUCTAPE_PRODUCT"]
    # A repository file alone does not decide where the key goes.
    code, out, err = cli(env, "plan", str(jobs_dir), "--format", "json")
    assert code == 1
    assert "comes from .reconciler.yaml and is not allowed to receive credentials" in err
    assert json.loads(out)["error"].endswith("or list it in RECONCILER_ALLOWED_TARGETS")
    assert ductape_server.private_key not in out + err
    env["RECONCILER_ALLOWED_TARGETS"] = ductape_server.base_url
    code, out, err = cli(env, "plan", str(jobs_dir))
    assert code == 0, err
    assert f"Target: {ductape_server.base_url} (product shop)" in out
    (jobs_dir / ".reconciler.yaml").write_text("private_key: abc\n")
    code, _, err = cli(env, "plan", str(jobs_dir))
    assert code == 1 and "credentials belong in DUCTAPE_* environment variables" in err
    assert "abc" not in err


@pytest.mark.slow
def test_catalogue_from_the_server(ductape_server: RunningServer) -> None:
    target = DuctapeTarget(
        ductape_server.base_url,
        Credentials(
            ductape_server.user_id,
            ductape_server.workspace_id,
            private_key=ductape_server.private_key,
        ),
        ductape_server.product_name,
    )
    try:
        catalogue = target.catalogue()
    finally:
        target.close()
    assert catalogue is not None
    assert catalogue.has("action", "stripe:list_charges")
    assert catalogue.has("database_action", "orders:archive_old")
    assert catalogue.has("function", "retry_failed_charges")
    assert not catalogue.has("notification", "no_such_notification")


def test_credentials_never_show_in_reprs_or_labels() -> None:
    creds = Credentials("a" * 24, "b" * 24, private_key="sekrit-key", token="sekrit-token")
    assert "sekrit" not in repr(creds)
    target = DuctapeTarget("https://ductape.test:8443/", creds, "shop")
    assert target.describe() == "https://ductape.test:8443 (product shop)"
    target.close()
    # user:password@ would go out as Basic auth in place of the token: refused, not shown.
    with pytest.raises(UsageError, match="must not carry user:password@") as caught:
        DuctapeTarget("https://bob:sekrit-pw@ductape.test:8443/", creds, "shop")
    assert "sekrit" not in str(caught.value)


# --- faults --------------------------------------------------------------------------------


class FaultyProxy:
    """Forwards to the real server; every ``every``-th request fails in turn, one of:

    - ``503``: answered 503 with Retry-After: 0, not forwarded;
    - ``lost``: forwarded (the write lands), then answered 503 as if the answer was lost;
    - ``429``: answered 429 with Retry-After: 0, not forwarded.
    """

    def __init__(self, upstream: str, every: int = 5) -> None:
        self.upstream = upstream
        self.every = every
        self.counter = itertools.count(1)
        self.modes = itertools.cycle(["503", "lost", "429"])
        self.lock = threading.Lock()
        self.seen = 0
        self.failed = 0

    async def handle(self, request: Request) -> Response:
        with self.lock:
            n = next(self.counter)
            self.seen = n
            mode = next(self.modes) if n % self.every == 0 else None
            if mode:
                self.failed += 1
        if mode in ("503", "429"):
            return Response(b"busy", status_code=int(mode), headers={"Retry-After": "0"})
        upstream = await forward(self.upstream, request)
        if mode == "lost":
            return Response(b"bad gateway", status_code=503)
        return Response(
            upstream.content, upstream.status_code, media_type=upstream.headers.get("content-type")
        )


@pytest.fixture
def faulty(ductape_server: RunningServer) -> Iterator[tuple[str, FaultyProxy]]:
    proxy = FaultyProxy(ductape_server.base_url)
    app = Starlette(routes=[Route("/{path:path}", proxy.handle, methods=["GET", "POST", "PUT"])])
    with serve_app(app) as url:
        yield url, proxy


def write_jobs(directory: Path, count: int) -> None:
    directory.mkdir()
    docs = [
        "\n".join(
            [
                f"name: Load job {i}",
                f"tag: load_{i:03d}",
                "event_type: function",
                "event_tag: retry_failed_charges",
                f"intervals: {i + 1}m",
                "start_at: 2026-12-01T00:00:00Z",
            ]
        )
        for i in range(count)
    ]
    (directory / "load.yaml").write_text("\n---\n".join(docs) + "\n")


@pytest.mark.slow
def test_apply_converges_through_503_429_and_lost_answers(
    ductape_server: RunningServer, faulty: tuple[str, FaultyProxy], tmp_path: Path
) -> None:
    """20% of requests fail; 200 jobs are still each created exactly once.

    A create whose answer was lost and that does not show up is reported unknown, never
    sent twice; the next runs converge.
    """
    url, proxy = faulty
    write_jobs(tmp_path / "load", 200)
    target = DuctapeTarget(
        url,
        Credentials(
            ductape_server.user_id,
            ductape_server.workspace_id,
            private_key=ductape_server.private_key,
        ),
        ductape_server.product_name,
        retry=FAST_RETRY,
    )
    from reconciler.apply import apply_plan
    from reconciler.desired import load_desired
    from reconciler.plan import build_plan

    unknown = 0
    try:
        for _ in range(10):  # each run writes what the last left unknown; bounded
            planned = build_plan(load_desired([str(tmp_path / "load")]).jobs, target.fetch_jobs())
            if not planned.has_changes:
                break
            report = apply_plan(planned, target, parallelism=4)
            for result in report.failed:
                assert "outcome unknown; re-run plan" in (result.error or ""), result.error
            unknown += len(report.failed)
    finally:
        target.close()
    assert not planned.has_changes
    assert proxy.failed >= 40 and proxy.failed * 5 <= proxy.seen  # 20% of what it saw

    live = ductape_server.store.product_document(ductape_server.product_id)
    assert live is not None
    tags = [j["tag"] for j in live["jobs"] if j["tag"].startswith("load_")]
    assert len(tags) == 200 and len(set(tags)) == 200

    env = env_for(ductape_server)
    code, out, _ = cli(
        env,
        "plan",
        str(tmp_path / "load"),
        "--target",
        ductape_server.base_url,
        "--detailed-exitcode",
    )
    assert code == 0, out


def test_retries_are_bounded() -> None:
    """A server that is always busy: the target gives up after its attempts, one line."""
    calls = 0

    def always_busy(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(503, json={"status": False, "meta": {}, "errors": "busy"})

    # A mock here: no real server is needed to say 503 forever, and none can be made to
    # count our attempts more simply.
    target = DuctapeTarget(
        "http://127.0.0.1:9",
        Credentials("a" * 24, "b" * 24, private_key="k"),
        "shop",
        retry=RetryPolicy(attempts=4, base=0.001, cap=0.002, budget=5),
        transport=httpx.MockTransport(always_busy),
    )
    with pytest.raises(TargetError, match=r"log in: gave up after retries \(HTTP 503\)"):
        target.fetch_jobs()
    target.close()
    assert calls == 4


def test_error_envelopes_become_short_lines() -> None:
    long = "x" * 5000

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("authKey"):
            return httpx.Response(
                201,
                json={
                    "status": True,
                    "meta": {},
                    "data": {"auth_token": "tok-123", "public_key": "p"},
                },
            )
        return httpx.Response(
            422, json={"status": False, "meta": {}, "errors": f"bad tok-123 {long}"}
        )

    target = DuctapeTarget(
        "http://127.0.0.1:9",
        Credentials("a" * 24, "b" * 24, private_key="k"),
        "c" * 24,
        transport=httpx.MockTransport(handler),
    )
    with pytest.raises(TargetError) as caught:
        target.fetch_jobs()
    target.close()
    message = str(caught.value)
    assert message.startswith("Ductape 422: bad *** xxx") and message.endswith("(read product)")
    assert "tok-123" not in message and len(message) < 260
    assert not isinstance(caught.value, AuthError)


@pytest.mark.slow
def test_event_tags_are_checked_against_the_live_catalogue(
    ductape_server: RunningServer, jobs_dir: Path
) -> None:
    env = env_for(ductape_server)
    url = ductape_server.base_url
    manifest = jobs_dir / "reports" / "nightly.yaml"
    manifest.write_text(manifest.read_text().replace("stripe:list_charges", "stripe:list_chargez"))
    # The seed's own live job belongs to someone else here: not ours, not an orphan.
    owns = "owns: [nightly_*, weekly_*, billing.*, archive_*, warm_*]\n"
    (jobs_dir / ".reconciler.yaml").write_text(owns)
    message = "the product has no action 'stripe:list_chargez'; did you mean 'stripe:list_charges'"
    code, _, err = cli(env, "plan", str(jobs_dir), "--target", url)
    assert code == 0
    assert err.splitlines() == [
        f"{manifest}:6:12: nightly_sales_report: event_tag: warning: {message}?"
    ]
    # The same warning, with its suggestion, in every format.
    code, out, _ = cli(env, "plan", str(jobs_dir), "--target", url, "--format", "json")
    (problem,) = json.loads(out)["problems"]
    assert problem["message"].startswith(message) and problem["line"] == 6
    assert problem["severity"] == "warning" and problem["file"] == str(manifest)
    code, out, _ = cli(env, "plan", str(jobs_dir), "--target", url, "--format", "markdown")
    assert "#### Problems (0 error(s), 1 warning(s))" in out and message in out
    code, out, _ = cli(env, "plan", str(jobs_dir), "--target", url, "--format", "github")
    title = "title=nightly_sales_report%3A event_tag"
    assert f"::warning file={manifest},line=6,col=12,{title}::" in out
    assert message in out
    code, _, err = cli(
        env, "apply", str(jobs_dir), "--target", url, "--references", "error", "--auto-approve"
    )
    assert code == 1
    assert "event_tag: the product has no action 'stripe:list_chargez'" in err
    assert err.splitlines()[-1] == "error: 1 error(s); nothing was changed"
    live = ductape_server.store.product_document(ductape_server.product_id)
    assert live is not None and [j["tag"] for j in live["jobs"]] == ["purge_expired_sessions"]
    code, _, err = cli(env, "plan", str(jobs_dir), "--target", url, "--references", "off")
    assert code == 0 and err == ""


# --- one log-in per user and run -------------------------------------------------------------

EXTRA_PRODUCTS = "".join(
    f"  - name: {name}\n    status: private\n"
    "    catalogue:\n      functions: [retry_failed_charges]\n"
    for name in ("billing", "ops")
)


def manifest(product: str) -> str:
    return (
        f"name: Nightly {product}\ntag: nightly_{product}\nevent_type: function\n"
        "event_tag: retry_failed_charges\nintervals: 1h\nstart_at: 2026-12-01T00:00:00Z\n"
    )


def test_three_products_of_one_user_log_in_once_per_run(
    ductape_server_factory: ServerFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """20 products logged in 20 times, against a limit of 30 a minute per user."""
    (tmp_path / "seed.yaml").write_text(EXAMPLE_SEED.read_text() + EXTRA_PRODUCTS)
    server = ductape_server_factory(seed_path=tmp_path / "seed.yaml")
    repo = tmp_path / "repo"
    products = ("shop", "billing", "ops")
    for name in products:
        (repo / name).mkdir(parents=True)
        (repo / name / "jobs.yaml").write_text(manifest(name))
    (repo / ".reconciler.yaml").write_text(
        "products:\n"
        + "".join(f"  {p}: {{paths: [{p}], product: {p}, owns: [nightly_*]}}\n" for p in products)
    )
    monkeypatch.chdir(repo)
    env = server.client_env()
    del env["DUCTAPE_PRODUCT"]
    for command, expected in [("plan", 2), ("apply", 0), ("drift", 0)]:
        extra = ["--auto-approve"] if command == "apply" else []
        extra += ["--detailed-exitcode"] if command == "plan" else []
        with access_lines() as log:
            code, out, err = cli(env, command, *extra)
            log.settle()
        assert code == expected, out + err
        assert log.count("POST", "/login/authKey") == 1, (command, log.lines)
        assert log.count("GET", "/integrations/integrations/v1/") >= 3
    assert shared_logins() == 0  # every target gave its share back


def test_open_targets_share_a_log_in_only_with_the_same_credentials(
    ductape_server: RunningServer,
) -> None:
    s = ductape_server
    creds = Credentials(s.user_id, s.workspace_id, private_key=s.private_key)
    wrong = Credentials(s.user_id, s.workspace_id, private_key="not-" + s.private_key)
    with access_lines() as log:
        first = DuctapeTarget(s.base_url, creds, s.product_name, retry=FAST_RETRY)
        second = DuctapeTarget(s.base_url + "/", creds, s.product_id, retry=FAST_RETRY)
        other = DuctapeTarget(s.base_url, wrong, s.product_name, retry=FAST_RETRY)
        try:
            assert [j.tag for j in first.fetch_jobs()] == [j.tag for j in second.fetch_jobs()]
            # A different key never rides on another's token: it logs in, and is refused.
            with pytest.raises(AuthError):
                other.fetch_jobs()
        finally:
            for target in (first, second, other):
                target.close()
        assert shared_logins() == 0
        again = DuctapeTarget(s.base_url, creds, s.product_name, retry=FAST_RETRY)
        try:
            again.fetch_jobs()  # the shared token went with the last target: a fresh log-in
        finally:
            again.close()
        log.settle()
    assert log.count("POST", "/login/authKey") == 3, log.lines
