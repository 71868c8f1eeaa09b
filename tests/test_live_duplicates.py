"""Two live jobs with one tag: plan, drift and export refuse, naming both ids.

Ductape keeps a product's jobs as an array, so nothing there stops two entries from sharing a
tag (another client, or a create retried by hand). The local store refuses a second row with
a tag, so the test writes the SQLite file directly, as that other client would have: a second
row whose document carries the same tag, running every minute.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from reconciler.export import export_jobs
from reconciler.model import EventType, Job
from reconciler.targets.local import LocalTarget
from reconciler.targets.store import Store, new_id
from testing.cli import invoke as run
from testing.server import RunningServer

TAG = "nightly_dup"
JOB = {
    "tag": TAG,
    "name": "Nightly, in Git",
    "event_type": "function",
    "event_tag": "purge_sessions",
    "executions": 0,
    "intervals": 86_400_000,
    "start_at": 1_796_083_200_000,
}
MANIFEST = (
    f"name: {JOB['name']}\ntag: {TAG}\nevent_type: function\nevent_tag: purge_sessions\n"
    "intervals: 1d\nstart_at: 2026-12-01T00:00:00Z\n"
)


def seed_duplicate(server: RunningServer) -> tuple[str, str]:
    """A copy running every minute written into the file, then the Git job through the PUT;
    their ids. Read in that order, the Git copy comes last and hid the other: "No drift"."""
    copy = {**JOB, "_id": new_id(), "name": "Every minute", "intervals": 60_000}
    with server.store.transaction() as conn:
        # The column is unique per product; the document, which every reader sees, is not.
        conn.execute(
            "INSERT INTO jobs (id, product_id, tag, doc) VALUES (?, ?, ?, ?)",
            (copy["_id"], server.product_id, f"{TAG}#copy", json.dumps(copy)),
        )
    server.put_jobs([JOB])
    docs = server.store.job_documents(server.product_id)
    first, second = [d["_id"] for d in docs if d["tag"] == TAG]
    assert first == copy["_id"]
    return first, second


def expected_error(ids: tuple[str, str]) -> str:
    return (
        f"error: the product holds 2 live jobs tagged '{TAG}' (ids {ids[0]}, {ids[1]}); a tag "
        "must name one job: remove or rename the extra ones in Ductape by hand (there is no "
        "delete), then run again"
    )


@pytest.mark.parametrize("command", ["plan", "drift", "apply"])
@pytest.mark.slow
def test_a_duplicate_live_tag_is_an_error_naming_both_ids(
    ductape_server: RunningServer, tmp_path: Path, command: str
) -> None:
    (tmp_path / "nightly.yaml").write_text(MANIFEST)
    ids = seed_duplicate(ductape_server)
    env = ductape_server.client_env()
    before = ductape_server.store.job_documents(ductape_server.product_id)
    extra = ("--auto-approve",) if command == "apply" else ()
    # --only: without the check, the copy equal to Git hides the other ("No drift", exit 0).
    code, out, err = run(command, str(tmp_path), "--only", TAG, *extra, env=env)
    assert code == 1, out + err
    lines = [line for line in (out + err).splitlines() if line.startswith("error:")]
    assert lines == [expected_error(ids)], out + err
    assert "Traceback" not in out + err
    assert ductape_server.store.job_documents(ductape_server.product_id) == before


@pytest.mark.slow
def test_export_refuses_a_duplicate_live_tag_and_writes_nothing(
    ductape_server: RunningServer, tmp_path: Path
) -> None:
    ids = seed_duplicate(ductape_server)
    out = tmp_path / "exported"
    code, text, err = run("export", "--out", str(out), env=ductape_server.client_env())
    assert code == 1, text + err
    assert err.splitlines() == [expected_error(ids)]
    assert not out.exists()


def test_export_never_writes_two_manifests_with_one_tag(tmp_path: Path) -> None:
    """Whatever a target hands it, export refuses before writing a file."""
    job = Job(TAG, "n", EventType.FUNCTION, "f", 0, 60_000, 1_796_083_200_000)
    other = Job("other", "n", EventType.FUNCTION, "f", 0, 60_000, 1_796_083_200_000)
    with pytest.raises(Exception, match=f"2 live jobs tagged '{TAG}'"):
        export_jobs([job, other, job], str(tmp_path / "m"))
    assert not os.path.exists(tmp_path / "m")


def test_the_embedded_store_refuses_a_duplicate_live_tag_too(tmp_path: Path) -> None:
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "nightly.yaml").write_text(MANIFEST)
    db = tmp_path / "live.db"
    target = LocalTarget(str(db), "shop")
    try:
        created = target.create_job(Job.from_mapping(JOB))
    finally:
        target.close()
    store = Store(str(db))
    try:
        product = store.find_product("shop")
        assert product is not None
        copy = {**JOB, "_id": new_id(), "intervals": 60_000}
        with store.transaction() as conn:
            conn.execute(
                "INSERT INTO jobs (id, product_id, tag, doc) VALUES (?, ?, ?, ?)",
                (copy["_id"], product.id, f"{TAG}#copy", json.dumps(copy)),
            )
    finally:
        store.close()
    target_options = ("--target", f"sqlite:///{db}", "--product", "shop")
    code, out, err = run("drift", str(tmp_path / "jobs"), *target_options, env={"NO_COLOR": "1"})
    assert code == 1, out + err
    assert [line for line in (out + err).splitlines() if line.startswith("error:")] == [
        expected_error((created.id, copy["_id"]))
    ]
