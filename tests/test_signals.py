"""SIGINT and SIGTERM against the real CLI in a real process: at random points of an apply,
at the prompt, while the plan's read hangs. Every run must exit 130 or 143, print its report
in the chosen format, and report every job the store holds as ok or unknown (never "not
started"). Linux only: a run's clock starts once /proc says the CLI catches both signals.
"""

from __future__ import annotations

import json
import os
import pty
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from testing.process import SCRIPT, clean_env, default_signals
from testing.server import running_server
from testing.wire import fake_ductape, raw_server

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

# Per signal and target; 4 x RUNS applies in all (40 by default, at least 32 cut short).
RUNS = int(os.environ.get("RECONCILER_SIGNAL_RUNS", "10"))
JOBS = 120  # over HTTP
LOCAL_JOBS = 400  # the figure; a local write takes a millisecond or two
WALL_SECONDS = 8.0 * RUNS  # the loop of one test stops starting runs past this
SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM}


def write_manifests(directory: Path, count: int, prefix: str = "load") -> Path:
    directory.mkdir(parents=True)
    docs = [
        f"name: Load {i}\ntag: {prefix}_{i:04d}\nevent_type: function\n"
        f"event_tag: retry_failed_charges\nintervals: {i + 1}m\nstart_at: 2030-01-01T00:00:00Z"
        for i in range(count)
    ]
    (directory / "load.yaml").write_text("\n---\n".join(docs) + "\n")
    return directory


def wait_until_handled(pid: int, limit: float = 1.0) -> None:
    """Until the process catches SIGINT and SIGTERM (its handlers are installed), or
    ``limit`` seconds (a CLI that never handles SIGTERM then fails on its exit code)."""
    wanted = (1 << (signal.SIGINT - 1)) | (1 << (signal.SIGTERM - 1))
    end = time.monotonic() + limit
    while time.monotonic() < end:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("SigCgt:") and int(line.split()[1], 16) & wanted == wanted:
                    return
        time.sleep(0.002)


def start(args: list[str], cwd: Path, env: dict[str, str], **kw: Any) -> subprocess.Popen[str]:
    # Files, not pipes: a full pipe would block the CLI mid-report and hide the point.
    kw.setdefault("stdin", subprocess.DEVNULL)
    # Its own dispositions, whatever pytest inherited (SIGINT is ignored in a background job).
    kw.setdefault("preexec_fn", default_signals)
    with (cwd / "out").open("w") as out, (cwd / "err").open("w") as err:
        return subprocess.Popen(
            [str(SCRIPT), *args], cwd=cwd, env=env, stdout=out, stderr=err, text=True, **kw
        )


def finish(process: subprocess.Popen[str], cwd: Path) -> tuple[int, str, str]:
    try:
        code = process.wait(timeout=30)
    finally:
        stop(process)
    return code, (cwd / "out").read_text(), (cwd / "err").read_text()


def stop(process: subprocess.Popen[str]) -> None:
    """Kill ``process`` if it still runs, and reap it (a process left unreaped is a warning,
    an error under this suite's filterwarnings, in whichever later test collects it)."""
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)


def check_run(code: int, out: str, err: str, held: set[str], signum: int, jobs: int) -> str:
    """Assert the report matches the store; 'interrupted' or 'finished' (signal too late)."""
    assert "Traceback" not in err and "internal error" not in err, (code, err)
    assert code >= 0 or code == -signum, (code, err[-500:])  # -11 would be a crash
    doc = json.loads(out)  # the chosen format, whole
    assert doc["format"] == "reconciler-apply", doc
    status = {r["tag"]: r["status"] for r in doc["results"]}
    for tag in held:
        assert status.get(tag) in ("ok", "unknown"), (tag, status.get(tag), doc["summary_line"])
    for tag, s in status.items():
        if s in ("skipped", "failed"):
            assert tag not in held, (tag, s)
        if s == "ok":
            assert tag in held, tag
    # The run was over before the signal came: exit 0, or killed by it while the interpreter
    # shut down (Python puts the default handlers back then), the whole report printed.
    if code in (0, -signum):
        assert all(s == "ok" for s in status.values()) and len(status) == jobs
        return "finished"
    assert code == 128 + signum, (code, err[-500:])
    if not doc["applied"]:
        assert not held and doc["error"].endswith("nothing was changed"), doc["error"]
    return "interrupted"


def interrupted_applies(
    tmp_path: Path,
    signum: int,
    prepare: Callable[[int], tuple[list[str], dict[str, str], Callable[[], set[str]]]],
    jobs: int,
) -> dict[str, int]:
    """RUNS applies, each sent ``signum`` at a random point of its run (planning, prompt-free
    approval, writes, confirmation); every report checked against the store.

    Two uninterrupted runs first measure how long a run lasts on this machine once its
    handlers are in; the signal comes within 60% of the shorter, so nearly every run is cut
    (the assertion allows two of RUNS to finish first, as a loaded machine's runs vary)."""
    lengths = []
    for n in (RUNS, RUNS + 1):  # the first run is cold (caches, a first login): the shorter
        args, env, held = prepare(n)
        cwd = tmp_path / f"whole{n}"
        cwd.mkdir()
        process = start(args, cwd, env)
        wait_until_handled(process.pid)
        began = time.monotonic()
        code, out, err = finish(process, cwd)
        lengths.append(time.monotonic() - began)
        assert code == 0 and check_run(code, out, err, held(), signum, jobs) == "finished", err
    longest = 0.6 * min(lengths)
    seen = {"interrupted": 0, "finished": 0}
    began = time.monotonic()
    for n in range(RUNS):
        if time.monotonic() - began > WALL_SECONDS:
            break
        args, env, held = prepare(n)
        cwd = tmp_path / f"run{n}"
        cwd.mkdir()
        process = start(args, cwd, env)
        wait_until_handled(process.pid)
        delay = random.uniform(0, longest)
        time.sleep(delay)
        process.send_signal(signum)
        code, out, err = finish(process, cwd)
        kind = check_run(code, out, err, held(), signum, jobs)
        seen[kind] += 1
        if kind == "finished":
            print(f"run {n}: over before the signal ({delay:.2f}s of {longest:.2f}s), exit {code}")
    assert sum(seen.values()) == RUNS, f"the wall-time bound stopped the loop: {seen}"
    assert seen["interrupted"] >= RUNS - 2, seen
    return seen


@pytest.mark.parametrize("name", SIGNALS)
def test_interrupted_applies_on_the_embedded_store(tmp_path: Path, name: str) -> None:
    jobs = write_manifests(tmp_path / "jobs", LOCAL_JOBS)

    def prepare(n: int) -> tuple[list[str], dict[str, str], Callable[[], set[str]]]:
        db = tmp_path / f"live{n}.db"

        def held() -> set[str]:
            if not db.exists():
                return set()
            conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
            try:
                return {row[0] for row in conn.execute("SELECT tag FROM jobs")}
            except sqlite3.OperationalError:  # created, no table yet
                return set()
            finally:
                conn.close()

        target = f"sqlite:///{db}"
        args = ["apply", str(jobs), "--target", target, "--auto-approve", "--format", "json"]
        return args, clean_env(), held

    interrupted_applies(tmp_path, SIGNALS[name], prepare, LOCAL_JOBS)


@pytest.mark.parametrize("name", SIGNALS)
def test_interrupted_applies_over_http(tmp_path: Path, name: str) -> None:
    with running_server(tmp_path / "server.db") as server:

        def prepare(n: int) -> tuple[list[str], dict[str, str], Callable[[], set[str]]]:
            # Each run its own tags in the one product; earlier runs' jobs are foreign to it.
            prefix = f"r{n}"
            jobs = write_manifests(tmp_path / f"jobs{n}", JOBS, prefix)

            def held() -> set[str]:
                time.sleep(0.3)  # a PUT the client left in flight may still be landing
                docs = server.store.job_documents(server.product_id)
                return {d["tag"] for d in docs if d["tag"].startswith(prefix + "_")}

            args = ["apply", str(jobs), "--auto-approve", "--format", "json"]
            args += ["--only", f"{prefix}_*"]
            return args, clean_env(**server.client_env()), held

        interrupted_applies(tmp_path, SIGNALS[name], prepare, JOBS)


def one_job(directory: Path) -> Path:
    return write_manifests(directory, 1, "prompt")


@pytest.mark.parametrize("key", ["SIGINT", "Ctrl-D"])
def test_an_interrupted_prompt_is_interrupted_with_the_report(tmp_path: Path, key: str) -> None:
    jobs = one_job(tmp_path / "jobs")
    db = tmp_path / "live.db"
    master, slave = pty.openpty()
    try:
        args = ["apply", str(jobs), "--target", f"sqlite:///{db}", "--format", "json"]
        process = start(args, tmp_path, clean_env(), stdin=slave)
        end = time.monotonic() + 20
        while not any("Apply these" in (tmp_path / f).read_text() for f in ("out", "err")):
            assert time.monotonic() < end and process.poll() is None, "no prompt"
            time.sleep(0.02)
        if key == "SIGINT":
            process.send_signal(signal.SIGINT)
        else:
            os.write(master, b"\x04")
        code, out, err = finish(process, tmp_path)
    finally:
        os.close(master)
        os.close(slave)
    assert code == 130, err
    assert "internal error" not in err and "Traceback" not in err
    doc = json.loads(out)
    assert doc["applied"] is False and doc["error"].startswith("interrupted at the prompt")
    assert doc["error"].endswith("nothing was changed")
    assert not db.exists() or not sqlite3.connect(db).execute("SELECT 1 FROM jobs").fetchall()


def signal_while_the_read_hangs(
    tmp_path: Path, args: list[str], signum: int
) -> tuple[int, str, str, float]:
    """Run ``args`` against a Ductape whose product read hangs 10 s; send ``signum`` once the
    read arrives. Exit code, stdout, stderr and the seconds from the signal to the exit."""
    arrived = threading.Event()

    def hang(conn: socket.socket) -> None:
        arrived.set()
        time.sleep(10)

    jobs = one_job(tmp_path / "jobs")
    with raw_server(fake_ductape(on_read=hang)) as url:
        env = clean_env(
            DUCTAPE_USER_ID="a" * 24,
            DUCTAPE_WORKSPACE_ID="b" * 24,
            DUCTAPE_PRIVATE_KEY="k",
            DUCTAPE_PRODUCT="c" * 24,
        )
        process = start([args[0], str(jobs), "--target", url, *args[1:]], tmp_path, env)
        try:
            assert arrived.wait(20), "the read never reached the server"
            sent = time.monotonic()
            process.send_signal(signum)
            code, out, err = finish(process, tmp_path)
        finally:
            stop(process)
        return code, out, err, time.monotonic() - sent


def test_sigterm_while_the_plan_read_hangs_prints_the_json_report(tmp_path: Path) -> None:
    code, out, err, took = signal_while_the_read_hangs(
        tmp_path, ["apply", "--auto-approve", "--format", "json"], signal.SIGTERM
    )
    # A 0.3 s grace, the read hangs 10 s: 3 s keeps to the first on a loaded 2-core machine.
    assert code == 143 and took < 3, (code, took, err)
    doc = json.loads(out)
    assert doc["format"] == "reconciler-apply" and doc["applied"] is False
    assert doc["error"] == "interrupted (SIGTERM); nothing was changed"
    assert "error: interrupted (SIGTERM); nothing was changed" in err


@pytest.mark.parametrize(
    ("verb", "name", "fmt", "kind"),
    [
        ("plan", "SIGTERM", "json", "reconciler-plan"),
        ("drift", "SIGINT", "json", "reconciler-drift"),
        ("plan", "SIGINT", "markdown", None),
    ],
)
def test_a_signal_while_a_read_hangs_still_prints_the_document(
    tmp_path: Path, verb: str, name: str, fmt: str, kind: str | None
) -> None:
    """plan and drift, cut short before they could report, still print their document in
    json and markdown (a pipeline reads why), with the signal's exit code."""
    code, out, err, _ = signal_while_the_read_hangs(
        tmp_path, [verb, "--format", fmt], SIGNALS[name]
    )
    assert code == 128 + SIGNALS[name], (code, err)
    said = f"interrupted ({name}); nothing was changed"
    assert f"error: {said}" in err
    if kind is None:
        assert out.startswith("<!-- reconciler-report -->\n### Plan interrupted") and said in out
        return
    doc = json.loads(out)
    assert doc["format"] == kind and doc["error"] == said
    schema = {"reconciler-plan": "plan", "reconciler-drift": "drift-report"}[kind]
    import jsonschema

    root = Path(__file__).resolve().parent.parent / "schemas"
    jsonschema.validate(doc, json.loads((root / f"{schema}.schema.json").read_text()))
