"""Snapshots: taken from the real local server, planned against with no credentials at all.

The acceptance runs are real processes (the installed script) with every ``DUCTAPE_*``
variable removed from their environment; the server is the real one on 127.0.0.1, its
product seeded with secrets in every part a snapshot must leave behind.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from reconciler.errors import UsageError
from reconciler.jsonfile import load_bounded
from reconciler.snapshot import MAX_BYTES, read
from reconciler.targets.snapshot import ReadOnly, SnapshotTarget, age_text
from testing.process import SCRIPT, clean_env, run_script
from testing.server import RunningServer

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "jobs"
SCHEMA = ROOT / "schemas" / "snapshot.schema.json"
TAKEN = "2026-11-01T00:00:00Z"
LATER = "2026-11-01T22:00:00Z"  # 22 hours after TAKEN
MUCH_LATER = "2026-11-03T00:00:00Z"  # two days after


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The examples, plus a job whose event_tag is a typo (the reference check must say so)."""
    work = tmp_path / "repo"
    shutil.copytree(EXAMPLES, work / "jobs")
    (work / "jobs" / "typo.yaml").write_text(
        "name: Refund\ntag: refund_late\nevent_type: action\nevent_tag: stripe:refund_charges\n"
        "intervals: 1h\nstart_at: 2037-06-01T00:00:00Z\n"
    )
    # Alone, it names one app: the hints come from that app's actions only, live and offline.
    (work / "alone").mkdir()
    (work / "alone" / "typo.yaml").write_text(
        "name: List\ntag: list_them\nevent_type: action\nevent_tag: stripe:list_products\n"
        "intervals: 1h\nstart_at: 2037-06-01T00:00:00Z\n"
    )
    return work


def no_credentials(**extra: str) -> dict[str, str]:
    """A process environment without a single DUCTAPE_* or RECONCILER_* variable."""
    env = clean_env(NO_COLOR="1", **extra)
    assert not [k for k in env if k.startswith("DUCTAPE_")]
    return env


def reconciler(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    assert SCRIPT.exists(), "install the package first (see README)"
    return run_script(list(args), cwd, env)


def take(server: RunningServer, cwd: Path, out: str = "live.json") -> Path:
    env = clean_env(**server.client_env(RECONCILER_NOW=TAKEN))
    done = reconciler(cwd, env, "snapshot", "--out", out)
    assert done.returncode == 0, done.stderr
    assert f"to {out}" in done.stdout
    return cwd / out


def without_target(document: dict[str, Any]) -> dict[str, Any]:
    assert "target" in document
    return {k: v for k, v in document.items() if k != "target"}


def prepare_live(server: RunningServer) -> None:
    """Live jobs of every kind a plan sees: one equal, one changed, one malformed."""
    server.put_jobs(
        [
            {
                "name": "Nightly sales report",
                "tag": "nightly_sales_report",
                "event_type": "action",
                "event_tag": "stripe:list_charges",
                "executions": 0,
                "intervals": 86400000,
                "start_at": 2127434400000,
            },
            {
                "name": "Weekly digest (edited live)",
                "tag": "weekly_digest",
                "event_type": "notification",
                "event_tag": "weekly_digest",
                "executions": 0,
                "intervals": 604800000,
                "start_at": 2128059000000,
            },
        ]
    )
    # Written by "another client" straight into the store: a job the model cannot read.
    server.store.create_job(server.product_id, {"tag": "broken", "intervals": "soon"})


# --- acceptance ------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.process
def test_a_plan_against_the_snapshot_equals_the_live_plan_without_credentials(
    ductape_server: RunningServer, repo: Path
) -> None:
    prepare_live(ductape_server)
    take(ductape_server, repo)
    live_env = clean_env(**ductape_server.client_env(RECONCILER_NOW=LATER))
    offline_env = no_credentials(RECONCILER_NOW=LATER)
    documents = {}
    for directory in ("jobs", "alone"):
        args = ("plan", directory, "--format", "json", "--detailed-exitcode")
        live = reconciler(repo, live_env, *args)
        assert live.returncode == 2, live.stderr
        offline = reconciler(repo, offline_env, *args, "--target", "snapshot:live.json")
        assert offline.returncode == live.returncode, offline.stderr
        live_doc, offline_doc = json.loads(live.stdout), json.loads(offline.stdout)
        assert without_target(offline_doc) == without_target(live_doc)
        documents[directory] = live_doc, offline_doc
    live_doc, offline_doc = documents["jobs"]
    # The comparison saw every kind of change, the reference check and the malformed job.
    actions = {c["action"] for c in live_doc["changes"]}
    assert {"create", "update", "unchanged", "orphan"} <= actions
    messages = " ".join(p["message"] for p in live_doc["problems"])
    assert "did you mean 'stripe:refund_charge'" in messages
    assert "'broken' cannot be read" in messages
    assert offline_doc["target"] == f"snapshot:live.json (product shop, taken {TAKEN}, 22h old)"
    alone = " ".join(p["message"] for p in documents["alone"][1]["problems"])
    # list_products is no typo of list_charges (0.72, under suggest.CUTOFF): no guess.
    assert "the product has no action 'stripe:list_products'" in alone
    assert "did you mean" not in alone and "catalogue:" not in alone


@pytest.mark.slow
@pytest.mark.process
def test_drift_and_references_work_against_the_snapshot(
    ductape_server: RunningServer, repo: Path
) -> None:
    prepare_live(ductape_server)
    take(ductape_server, repo)
    env = no_credentials(RECONCILER_NOW=LATER)
    drift = reconciler(repo, env, "drift", "jobs", "--target", "snapshot:live.json")
    assert drift.returncode == 2, drift.stderr
    assert "Target: snapshot:live.json (product shop, taken" in drift.stdout
    refs = reconciler(
        repo, env, "plan", "jobs", "--references", "error", "--target", "snapshot:live.json"
    )
    assert refs.returncode == 1
    assert "the product has no action 'stripe:refund_charges'" in refs.stderr


@pytest.mark.slow
@pytest.mark.process
def test_apply_against_a_snapshot_is_refused_and_writes_nothing(
    ductape_server: RunningServer, repo: Path
) -> None:
    path = take(ductape_server, repo)
    before = path.read_bytes()
    live_before = ductape_server.store.job_documents(ductape_server.product_id)
    env = no_credentials(RECONCILER_NOW=LATER)
    for fmt in ("text", "json"):
        done = reconciler(
            repo, env, "apply", "jobs", "--auto-approve", "--format", fmt,
            "--target", "snapshot:live.json",
        )  # fmt: skip
        assert done.returncode == 1
        assert "error: a snapshot is read-only" in done.stderr
        assert "Traceback" not in done.stderr
    # No prompt either: refused before approval, with no terminal and no --auto-approve.
    done = reconciler(repo, env, "apply", "jobs", "--target", "snapshot:live.json")
    assert done.returncode == 1 and "a snapshot is read-only" in done.stderr
    assert path.read_bytes() == before
    assert ductape_server.store.job_documents(ductape_server.product_id) == live_before
    assert sorted(p.name for p in repo.iterdir()) == ["alone", "jobs", "live.json"]


@pytest.mark.slow
@pytest.mark.process
def test_the_target_itself_refuses_writes(ductape_server: RunningServer, repo: Path) -> None:
    """Defence in depth: a write that reached the target past the apply check still fails."""
    target = SnapshotTarget(str(take(ductape_server, repo)))
    job = next(iter(target.fetch_jobs()))
    with pytest.raises(ReadOnly, match="read-only"):
        target.create_job(job)
    with pytest.raises(ReadOnly, match="read-only"):
        target.update_job(job.tag, {"name": "x"})


@pytest.mark.slow
@pytest.mark.process
def test_an_old_snapshot_with_a_max_age_is_an_error(
    ductape_server: RunningServer, repo: Path
) -> None:
    take(ductape_server, repo)
    args = ("plan", "jobs", "--target", "snapshot:live.json")
    fresh = reconciler(repo, no_credentials(RECONCILER_NOW=LATER, RECONCILER_MAX_AGE="24h"), *args)
    assert fresh.returncode == 0, fresh.stderr
    stale = reconciler(
        repo, no_credentials(RECONCILER_NOW=MUCH_LATER, RECONCILER_MAX_AGE="24h"), *args
    )
    assert stale.returncode == 1
    assert stale.stderr.strip().splitlines()[-1] == (
        f"error: live.json was taken {TAKEN}, 2d ago: older than RECONCILER_MAX_AGE=24h; "
        "take a new one with: reconciler snapshot --out live.json"
    )
    unbounded = reconciler(repo, no_credentials(RECONCILER_NOW=MUCH_LATER), *args)
    assert unbounded.returncode == 0
    assert "48h old" in unbounded.stdout
    bad = reconciler(repo, no_credentials(RECONCILER_MAX_AGE="a day"), *args)
    assert bad.returncode == 1 and "RECONCILER_MAX_AGE='a day': " in bad.stderr


@pytest.mark.slow
@pytest.mark.process
def test_every_report_names_the_snapshot_and_its_age(
    ductape_server: RunningServer, repo: Path
) -> None:
    take(ductape_server, repo)
    env = no_credentials(RECONCILER_NOW=LATER)
    label = f"snapshot:live.json (product shop, taken {TAKEN}, 22h old)"
    for fmt in ("text", "markdown", "json"):
        done = reconciler(
            repo, env, "plan", "jobs", "--format", fmt, "--target", "snapshot:live.json"
        )
        assert done.returncode == 0, done.stderr
        assert label in done.stdout, fmt
    saved = reconciler(
        repo, env, "plan", "jobs", "--out", "plan.json", "--target", "snapshot:live.json"
    )
    assert saved.returncode == 0
    shown = reconciler(repo, env, "show", "plan.json")
    assert label in shown.stdout


@pytest.mark.slow
@pytest.mark.process
def test_a_snapshot_of_another_product_is_refused(
    ductape_server: RunningServer, repo: Path
) -> None:
    take(ductape_server, repo)
    env = {**no_credentials(), "DUCTAPE_PRODUCT": "other"}
    done = reconciler(repo, env, "plan", "jobs", "--target", "snapshot:live.json")
    assert done.returncode == 1
    assert "live.json is a snapshot of product 'shop', not 'other'" in done.stderr


# --- no secret reaches the file ----------------------------------------------------------------

SECRET = "SECRET-VALUE-"


class Planter:
    """Puts a distinct secret value into every object of a document, and auth blocks."""

    def __init__(self) -> None:
        self.count = 0

    def secret(self) -> str:
        self.count += 1
        return f"{SECRET}{self.count}"

    def plant(self, value: Any) -> Any:
        if isinstance(value, dict):
            out = {k: self.plant(v) for k, v in value.items()}
            out.setdefault("private_key", self.secret())  # the product keeps its own
            out["auth"] = {"token": self.secret(), "headers": {"Authorization": self.secret()}}
            out["webhook_secret"] = [self.secret(), {"nested": self.secret()}]
            return out
        if isinstance(value, list):
            return [self.plant(v) for v in value] + [{"leak": self.secret()}, self.secret()]
        return value


def plant_secrets(server: RunningServer) -> int:
    """Secrets in the product document, every job, and every app the apps service serves."""
    planter = Planter()
    with server.store.transaction() as conn:
        for table in ("products", "jobs", "server_apps"):
            for row_id, doc in conn.execute(f"SELECT id, doc FROM {table}").fetchall():
                planted = planter.plant(json.loads(doc))
                if table == "products":
                    planted["envs"].append({"slug": "stg", "auth": {"key": planter.secret()}})
                    planted["caches"].append({"url": planter.secret()})
                    planted["features"].append({"token": planter.secret()})
                if table == "server_apps":
                    planted["actions"].append({"auth": planter.secret()})
                conn.execute(
                    f"UPDATE {table} SET doc = ? WHERE id = ?", (json.dumps(planted), row_id)
                )
    return planter.count


@pytest.mark.slow
@pytest.mark.process
def test_no_secret_of_the_served_product_reaches_the_snapshot(
    ductape_server: RunningServer, repo: Path
) -> None:
    prepare_live(ductape_server)
    planted = plant_secrets(ductape_server)
    assert planted > 50
    # The server does serve them: the test would prove nothing otherwise.
    served = json.dumps(ductape_server.store.product_document(ductape_server.product_id))
    assert served.count(SECRET) > 20 and "product_dev_" in served
    text = take(ductape_server, repo).read_text(encoding="utf-8")
    assert SECRET not in text
    assert "product_dev_" not in text  # the product's own key, from the seed
    assert ductape_server.private_key not in text
    assert ductape_server.public_key not in text
    # ... and the snapshot still holds what a plan needs.
    document = json.loads(text)
    assert {j["tag"] for j in document["jobs"]} >= {"purge_expired_sessions", "weekly_digest"}
    assert document["catalogue"]["apps"]["stripe"] == ["list_charges", "refund_charge"]
    assert document["product"] == {"id": ductape_server.product_id, "name": "shop"}


# --- the file: schema, bounds, read back -------------------------------------------------------


@pytest.mark.slow
@pytest.mark.process
def test_the_written_snapshot_satisfies_its_published_schema(
    ductape_server: RunningServer, repo: Path
) -> None:
    prepare_live(ductape_server)
    document = json.loads(take(ductape_server, repo).read_text())
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(document)
    packaged = ROOT / "reconciler" / "schemas" / "snapshot.schema.json"
    assert packaged.read_text() == SCHEMA.read_text()
    assert document["format"] == "reconciler-snapshot" and document["format_version"] == 1
    assert document["taken_at"] == TAKEN


@pytest.mark.slow
@pytest.mark.process
def test_a_snapshot_of_the_embedded_store(tmp_path: Path) -> None:
    env = no_credentials(RECONCILER_NOW=TAKEN)
    shutil.copytree(EXAMPLES, tmp_path / "jobs")
    db = f"sqlite:///{tmp_path / 'live.db'}"
    assert (
        reconciler(tmp_path, env, "apply", "jobs", "--auto-approve", "--target", db).returncode == 0
    )
    done = reconciler(tmp_path, env, "snapshot", "--target", db, "--out", "s.json")
    assert done.returncode == 0, done.stderr
    plan = reconciler(
        tmp_path, env, "plan", "jobs", "--detailed-exitcode", "--target", "snapshot:s.json"
    )
    assert plan.returncode == 0, plan.stdout + plan.stderr
    missing = reconciler(
        tmp_path, env, "snapshot", "--target", f"sqlite:///{tmp_path / 'none.db'}", "--out", "x"
    )
    assert missing.returncode == 1 and "holds no product 'default'" in missing.stderr
    assert not (tmp_path / "x").exists()


def valid_document() -> dict[str, Any]:
    return {
        "format": "reconciler-snapshot",
        "format_version": 1,
        "written_by": "reconciler test",
        "taken_at": TAKEN,
        "target": "http://127.0.0.1 (product shop)",
        "product": {"id": "66a0000000000000000000c3", "name": "shop"},
        "jobs": [
            {
                "tag": "a",
                "name": "A",
                "event_type": "function",
                "event_tag": "f",
                "executions": 0,
                "intervals": 60000,
                "start_at": 2127427200000,
            },
            {"tag": "bad", "intervals": "soon"},
            None,
        ],
        "catalogue": None,
    }


def test_jobs_read_back_go_through_the_model_like_live_ones(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps(valid_document()))
    target = SnapshotTarget(str(path))
    live = target.fetch_jobs()
    assert [j.tag for j in live] == ["a"]
    assert live.jobs[0].intervals == 60000
    assert [m.tag for m in live.malformed] == ["bad", None]
    assert live.malformed[0].message == "live job bad is malformed: name: is required"
    assert target.catalogue() is None
    assert target.fetch_job("a") == live.jobs[0] and target.fetch_job("bad") is None


def edited(**changes: Any) -> dict[str, Any]:
    document = valid_document()
    for dotted, value in changes.items():
        where: Any = document
        *parents, last = dotted.split("__")
        for key in parents:
            where = where[int(key)] if isinstance(where, list) else where[key]
        where[last] = value
    return document


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (edited(format="reconciler-plan"), "not a reconciler snapshot"),
        (edited(format_version=2), "snapshot format_version 2; this reconciler reads 1"),
        (edited(jobs__0__private_key="x"), "$.jobs[0]: "),
        (edited(product__auth={"k": "v"}), "$.product: Additional properties"),
        (edited(extra=1), "$: Additional properties are not allowed ('extra' was unexpected)"),
        (edited(taken_at="yesterday"), "$.taken_at: 'yesterday' does not match"),
        (edited(jobs__0__name={"deep": 1}), "$.jobs[0]: "),
        (edited(catalogue={"apps": []}), "$.catalogue: "),
        ([1, 2], "not a reconciler snapshot"),
    ],
)
def test_a_damaged_snapshot_is_one_line(tmp_path: Path, document: Any, message: str) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps(document))
    with pytest.raises(UsageError) as caught:
        read(str(path))
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.slow
@pytest.mark.process
def test_a_damaged_snapshot_through_the_cli(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES, tmp_path / "jobs")
    (tmp_path / "s.json").write_text('{"format": "reconciler-snapshot", "format": "x"}')
    done = reconciler(tmp_path, no_credentials(), "plan", "jobs", "--target", "snapshot:s.json")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "s.json: the snapshot is not valid here: the key 'format' appears twice" in done.stderr
    gone = reconciler(tmp_path, no_credentials(), "plan", "jobs", "--target", "snapshot:no.json")
    assert gone.returncode == 1 and "cannot read the snapshot no.json" in gone.stderr
    empty = reconciler(tmp_path, no_credentials(), "plan", "jobs", "--target", "snapshot:")
    assert empty.returncode == 1 and "no file path after snapshot:" in empty.stderr


# --- the bounded reader --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": 1, "a": 2}', "the key 'a' appears twice in one object"),
        ('{"a": {"b": 1, "b": 1}}', "the key 'b' appears twice"),
        ('{"a": NaN}', "NaN is not a JSON number"),
        ("[Infinity]", "Infinity is not a JSON number"),
        ("[-Infinity]", "-Infinity is not a JSON number"),
        ('{"a": 1,\n "b": }', "f.json:2:7: the thing is not valid JSON: Expecting value"),
        ("[" * 5 + "]" * 5, "the thing nests deeper than 4 levels"),
        ("[" * 200_000, "the thing nests deeper than 4 levels"),
        ("1" * 5000, "the thing is not valid JSON: "),
        ("", "f.json:1:1: the thing is not valid JSON"),
    ],
)
def test_the_bounded_reader_refuses_in_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "f.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError) as caught:
        load_bounded(str(path), "thing", 1_000_000, 4)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_brackets_inside_strings_are_not_nesting(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    path.write_text(json.dumps({"a": ["[[[[[[[[", '\\"{{{{{{{{', {"b": "]]]]"}]}))
    assert load_bounded(str(path), "thing", 1000, 3) == {
        "a": ["[[[[[[[[", '\\"{{{{{{{{', {"b": "]]]]"}]
    }


def test_the_bounded_reader_wants_utf8_and_says_where(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    path.write_bytes(b'{"a":\n  "\xff"}')
    with pytest.raises(UsageError, match=r"f\.json:2:4: the thing is not UTF-8 text"):
        load_bounded(str(path), "thing", 1000, 4)


def test_the_size_is_checked_before_reading(tmp_path: Path) -> None:
    """A sparse file of 8 GiB: read, it would fill memory; refused from its size at once."""
    path = tmp_path / "huge.json"
    with path.open("wb") as handle:
        handle.truncate(8 * 1024**3)
    with pytest.raises(UsageError, match="is 8,589,934,592 bytes, more than the 67,108,864"):
        read(str(path))
    small = tmp_path / "small.json"
    small.write_text("[" + " " * 100 + "]")
    with pytest.raises(UsageError, match="is 102 bytes, more than the 50 allowed"):
        load_bounded(str(small), "thing", 50, 4)
    assert MAX_BYTES == 67_108_864


def test_a_file_of_unknown_size_is_read_no_further_than_the_limit() -> None:
    """/proc reports its files as regular and empty: the bound holds while reading too."""
    status = "/proc/self/status"
    if not os.path.exists(status) or os.stat(status).st_size != 0:
        pytest.skip("no /proc of files that report no size")
    with pytest.raises(UsageError, match=r"/proc/self/status: the thing is more than the 100 "):
        load_bounded(status, "thing", 100, 4)


@pytest.mark.parametrize("name", ["/dev/zero", "."])
def test_only_a_regular_file_is_read(name: str) -> None:
    with pytest.raises(UsageError, match=f"^cannot read the thing {name}: not a regular file$"):
        load_bounded(name, "thing", 1000, 4)


def test_a_snapshot_that_is_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    """Opened without waiting for a writer: one line, not a run that hangs (bounded: 15 s)."""
    shutil.copytree(EXAMPLES, tmp_path / "jobs")
    os.mkfifo(tmp_path / "live.json")  # nobody ever writes to it
    done = subprocess.run(
        [str(SCRIPT), "plan", "jobs", "--target", "snapshot:live.json"],
        cwd=tmp_path,
        env=no_credentials(),
        capture_output=True,
        text=True,
        timeout=15,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 1
    assert done.stderr == "error: cannot read the snapshot live.json: not a regular file\n"


@pytest.mark.parametrize(
    ("ms", "text"),
    [(0, "0s"), (59_999, "59s"), (60_000, "1m"), (3_599_999, "59m"), (79_200_000, "22h"),
     (71 * 3_600_000, "71h"), (72 * 3_600_000, "3d"), (-5, "0s")],
)  # fmt: skip
def test_ages_read_at_a_glance(ms: int, text: str) -> None:
    assert age_text(ms) == text


@pytest.mark.slow
@pytest.mark.process
def test_validate_checks_references_against_a_snapshot_without_credentials(
    ductape_server: RunningServer, repo: Path
) -> None:
    take(ductape_server, repo)
    env = no_credentials(RECONCILER_NOW=LATER)
    offline = reconciler(repo, env, "validate", "jobs")
    assert offline.returncode == 0, offline.stderr
    assert "refund_charges" not in offline.stdout + offline.stderr  # no target: no catalogue
    found = reconciler(repo, env, "validate", "jobs", "--target", "snapshot:live.json")
    assert found.returncode == 0, found.stderr
    assert "the product has no action 'stripe:refund_charges'" in found.stdout + found.stderr
    assert "did you mean 'stripe:refund_charge'" in found.stdout + found.stderr
    refused = reconciler(
        repo, env, "validate", "jobs", "--target", "snapshot:live.json", "--references", "error"
    )
    assert refused.returncode == 1
    assert "typo.yaml:4:" in refused.stdout + refused.stderr
    strict = reconciler(repo, env, "validate", "jobs", "--target", "snapshot:live.json", "--strict")
    assert strict.returncode == 1
