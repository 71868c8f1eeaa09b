"""Speed of reconciler at 1,000 to 50,000 jobs, measured against a floor and peers in one run.

    python benchmarks/run.py [--sizes 1000,10000,50000] [--repeat N] [--json-only] [--quick]

For every size it generates N manifests (one job each, every event type, friendly forms mixed
with canonical ones) and a SQLite store holding the same jobs with 10% of them changed, then
times, as medians of ``--repeat`` runs:

1. the floor: read the files, parse with PyYAML's C loader, validate with a compiled
   jsonschema validator, all in this process;
1b. the same parse with PyYAML's pure-Python loader;
2. ``reconciler validate DIR`` and ``check-jsonschema --schemafile ...`` on the same files;
3. ``reconciler plan DIR --target sqlite:///...`` against the pre-filled store;
4. ``reconciler plan`` against the local server over HTTP (when the HTTP target exists);
5. ``reconciler apply`` of 1,000 creates over HTTP at 20 ms a request, --parallelism 1 vs the
   default (when the HTTP target exists);
6. the peak RSS of the plan; 7. ``reconciler --help``; and deepdiff on all pairs vs
   ``reconciler.diff.field_changes`` on the pairs that differ.

CLI commands run in subprocesses so start-up counts the way a user sees it. The script prints
a table, PASS/FAIL per target and a final JSON line with every figure. It exits 0 unless a
command itself failed: it is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

REPO = Path(__file__).resolve().parent.parent
SCHEMA_PATH = REPO / "schemas" / "job.schema.json"
PRODUCT = "bench"
APPLY_JOBS = 1000
APPLY_JOBS_QUICK = 40
LATENCY_S = 0.020
HTTP_NA = "n/a (HTTP target not available yet)"

# The targets of the issue, judged on figures from this run.
VALIDATE_VS_PEER_MIN = 5.0
VALIDATE_VS_FLOOR_MAX = 1.5
PLAN_VS_FLOOR_MAX = 2.0
PLAN_HTTP_VS_FLOOR_MAX = 3.0
SCALING_MAX = 1.3
PARALLEL_EFFICIENCY_MIN = 0.75
PEAK_RSS_MAX_MB = 200.0
HELP_MAX_S = 0.25


class CommandFailed(Exception):
    """A measured command exited with an unexpected code; the run's exit code becomes 1."""


# --- the synthetic manifests -----------------------------------------------------------------

_EVENT_TYPES = ("action", "Notification", "database_action", "FUNCTION")
_EVENT_TAGS = ("stripe:list_charges_{}", "weekly_digest_{}", "orders:archive_{}", "kpis_{}")
_INTERVALS: tuple[str | int, ...] = ("1h30m", "15m", 3_600_000, "1d", "90s", "1w")
_BASE_MS = 1_796_090_400_000  # 2026-12-01T02:00:00Z


def job_fields(i: int) -> dict[str, Any]:
    """The manifest fields of job ``i``, friendly and canonical forms mixed."""
    kind = i % 4
    data: dict[str, Any] = {
        "name": f"Synthetic job {i}",
        "tag": f"job_{i:06d}",
        "event_type": _EVENT_TYPES[kind],
        "event_tag": _EVENT_TAGS[kind].format(i % 50),
    }
    if i % 5:  # every fifth job leaves executions to its default
        data["executions"] = i % 25
    data["intervals"] = _INTERVALS[i % len(_INTERVALS)]
    if i % 3 == 0:
        data["start_at"] = "2026-12-01T02:00:00Z"  # written unquoted below
    elif i % 3 == 1:
        data["start_at"] = "2026-12-01T08:30:00+05:30"  # written quoted below
    else:
        data["start_at"] = _BASE_MS + i * 1000
    return data


def manifest_text(data: dict[str, Any], i: int) -> str:
    lines = [
        "# yaml-language-server: $schema=../../schemas/job.schema.json",
        f"# Synthetic job {i} for the benchmark.",
    ]
    for key, value in data.items():
        if isinstance(value, int):
            text = str(value)
        elif (key == "start_at" and i % 3 == 1) or key == "name":
            text = json.dumps(value)
        else:
            text = value
        lines.append(f"{key}: {text}")
    return "\n".join(lines) + "\n"


def changed_live(i: int, wire: dict[str, Any]) -> dict[str, Any]:
    """The live copy of a job that the plan must report as an update (every tenth job)."""
    live = dict(wire)
    if i % 20 == 0:
        live["name"] = f"{wire['name']} (edited live)"
    else:
        live["intervals"] = wire["intervals"] * 2
        live["executions"] = wire["executions"] + 1
    return live


@dataclass
class Dataset:
    size: int
    root: Path  # the manifest directory
    files: list[str]  # paths relative to root, sorted
    store: Path  # SQLite store: the same jobs, 10% changed
    pairs: list[tuple[Any, Any]]  # (live Job, desired Job) for every tag
    updates: int
    live: list[dict[str, Any]]  # the live jobs in wire form, without _id


def fill(store: Any, product_id: str, live: list[dict[str, Any]]) -> None:
    """Insert live jobs as the Store keeps them, in one transaction (seconds at 50,000)."""
    from reconciler.targets.local import new_id

    rows = []
    for wire in live:
        doc = {"_id": new_id(), **wire}
        rows.append((doc["_id"], product_id, doc["tag"], json.dumps(doc)))
    with store.transaction() as conn:
        conn.executemany("INSERT INTO jobs (id, product_id, tag, doc) VALUES (?, ?, ?, ?)", rows)


def generate(workdir: Path, size: int) -> Dataset:
    """Write ``size`` manifests and a SQLite store with the same jobs, one in ten changed."""
    from reconciler.model import Job
    from reconciler.targets.local import Store

    root = workdir / f"manifests-{size}"
    files: list[str] = []
    desired: list[Job] = []
    for i in range(size):
        rel = f"jobs/team-{i // 1000:03d}/job-{i:06d}.yaml"
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        data = job_fields(i)
        path.write_text(manifest_text(data, i), encoding="utf-8")
        files.append(rel)
        desired.append(Job.from_mapping(data))

    live: list[dict[str, Any]] = []
    pairs: list[tuple[Job, Job]] = []
    for i, job in enumerate(desired):
        wire = changed_live(i, job.to_wire()) if i % 10 == 0 else job.to_wire()
        live.append(wire)
        pairs.append((Job.from_mapping(wire), job))

    store_path = workdir / f"live-{size}.db"
    store = Store(str(store_path))
    try:
        fill(store, store.ensure_product(PRODUCT).id, live)
    finally:
        store.close()
    updates = sum(1 for have, want in pairs if have != want)
    return Dataset(size, root, sorted(files), store_path, pairs, updates, live)


# --- timing helpers --------------------------------------------------------------------------


def median_time(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def reconciler_cmd() -> list[str]:
    """The console script a user runs, next to this interpreter if it is there."""
    script = Path(sys.executable).parent / "reconciler"
    if script.exists():
        return [str(script)]
    found = shutil.which("reconciler")
    if found:
        return [found]
    return [sys.executable, "-c", "from reconciler.cli import main; main()"]


def run(
    cmd: Sequence[str],
    cwd: Path | None = None,
    ok: Sequence[int] = (0,),
    capture: bool = False,
    env: dict[str, str] | None = None,
) -> str:
    proc = subprocess.run(
        list(cmd),
        cwd=cwd,
        stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env,
        text=True,
        check=False,
    )
    if proc.returncode not in ok:
        shown = " ".join(cmd[:6]) + (" ..." if len(cmd) > 6 else "")
        tail = proc.stderr.strip().splitlines()[-3:]
        raise CommandFailed(f"{shown}: exit {proc.returncode}: {' | '.join(tail)}")
    return proc.stdout if capture else ""


def time_cmd(cmd: Sequence[str], repeat: int, cwd: Path | None = None, **kw: Any) -> float:
    return median_time(lambda: run(cmd, cwd, **kw), repeat)


def batches(args: Sequence[str], fixed: Sequence[str]) -> list[list[str]]:
    """Split ``args`` so each command line stays well under ARG_MAX (with the environment)."""
    try:
        arg_max = os.sysconf("SC_ARG_MAX")
    except (ValueError, OSError):
        arg_max = 131_072
    env_size = sum(len(k) + len(v) + 2 for k, v in os.environ.items())
    budget = max(arg_max // 2 - env_size - sum(len(a) + 9 for a in fixed), 4096)
    out: list[list[str]] = [[]]
    used = 0
    for arg in args:
        cost = len(arg) + 9  # the string, its NUL and its pointer
        if out[-1] and used + cost > budget:
            out.append([])
            used = 0
        out[-1].append(arg)
        used += cost
    return out


# --- 1, 1b: the floor --------------------------------------------------------------------------

_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


def _without_timestamps(base: type[Any]) -> type[Any]:
    """A loader that keeps timestamps as text, as reconciler does (the schema wants strings)."""
    resolvers = {
        first: [(tag, regexp) for tag, regexp in pairs if tag != _TIMESTAMP_TAG]
        for first, pairs in base.yaml_implicit_resolvers.items()
    }
    return type(f"Text{base.__name__}", (base,), {"yaml_implicit_resolvers": resolvers})


C_LOADER = _without_timestamps(getattr(yaml, "CSafeLoader", yaml.SafeLoader))
PY_LOADER = _without_timestamps(yaml.SafeLoader)


def walk(root: Path) -> list[str]:
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        found.extend(os.path.join(dirpath, n) for n in filenames if n.endswith((".yaml", ".yml")))
    return sorted(found)


def compiled_validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def floor_pass(root: Path, validator: Draft202012Validator) -> int:
    """Find, read, parse (C loader) and validate every manifest; the count of valid docs."""
    valid = 0
    for path in walk(root):
        with open(path, "rb") as handle:
            text = handle.read()
        for doc in yaml.load_all(text, Loader=C_LOADER):
            if validator.is_valid(doc):
                valid += 1
            else:
                errors = list(validator.iter_errors(doc))
                raise CommandFailed(f"floor: {path} invalid: {errors[0].message}")
    return valid


def parse_only(root: Path, loader: type[Any]) -> int:
    count = 0
    for path in walk(root):
        with open(path, "rb") as handle:
            count += len(list(yaml.load_all(handle.read(), Loader=loader)))
    return count


# --- 4, 5: the local server over HTTP ----------------------------------------------------------


def http_support() -> str | None:
    """None when the server and the HTTP target exist; else why this run cannot measure them."""
    try:
        server = importlib.import_module("reconciler.server")
    except ImportError as exc:
        return f"{HTTP_NA}: cannot import reconciler.server ({exc})"
    missing = [n for n in ("create_app", "load_seed") if not callable(getattr(server, n, None))]
    if missing:
        return f"{HTTP_NA}: reconciler.server has no {' or '.join(missing)}"
    from reconciler.errors import UsageError
    from reconciler.targets import open_target

    try:
        target = open_target("http://127.0.0.1:9", PRODUCT)
    except UsageError as exc:
        if "unknown target" in str(exc):
            return f"{HTTP_NA}: --target http:// is not recognised ({exc})"
    except Exception:  # recognised, but wants more (credentials): fine here
        pass
    else:
        with contextlib.suppress(Exception):
            target.close()
    return None


# One fake development account, as examples/seed.yaml has; never a real credential.
_USER_ID = "66a0000000000000000000a1"
_WORKSPACE_ID = "66a0000000000000000000b2"
_PRIVATE_KEY = "bench-only-fake-private-key"


def http_env() -> dict[str, str]:
    return {
        **os.environ,
        "DUCTAPE_USER_ID": _USER_ID,
        "DUCTAPE_WORKSPACE_ID": _WORKSPACE_ID,
        "DUCTAPE_PRIVATE_KEY": _PRIVATE_KEY,
    }


def seeded_store(workdir: Path, name: str, live: list[dict[str, Any]]) -> Path:
    """A server database: the account, product ``bench`` with every event tag, ``live`` jobs."""
    from reconciler.server import load_seed
    from reconciler.targets.local import Store

    k = range(50)  # the event tags job_fields() uses
    seed = {
        "user": {"id": _USER_ID, "private_key": _PRIVATE_KEY},
        "workspace": {"id": _WORKSPACE_ID, "name": "Benchmark"},
        "products": [
            {
                "name": PRODUCT,
                "catalogue": {
                    "apps": [{"access_tag": "stripe", "actions": [f"list_charges_{t}" for t in k]}],
                    "notifications": [f"weekly_digest_{t}" for t in k],
                    "databases": [{"tag": "orders", "actions": [f"archive_{t}" for t in k]}],
                    "functions": [f"kpis_{t}" for t in k],
                },
            }
        ],
    }
    seed_path = workdir / f"{name}.seed.yaml"
    seed_path.write_text(yaml.safe_dump(seed), encoding="utf-8")
    db = workdir / f"{name}.db"
    store = Store(str(db))
    try:
        info = load_seed(store, str(seed_path))
        fill(store, info.products[0].id, live)
    finally:
        store.close()
    return db


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _with_latency(app: Any, seconds: float) -> Any:
    """ASGI middleware that holds every HTTP request for ``seconds``, like a far-away API."""

    async def delayed(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and seconds > 0:
            await asyncio.sleep(seconds)
        await app(scope, receive, send)

    return delayed


def serve(db: str, port: int, latency: float) -> None:
    """Run the local server on ``db`` (the hidden ``--serve`` mode of this script)."""
    import uvicorn

    from reconciler.server import create_app
    from reconciler.targets.local import Store

    app = _with_latency(create_app(Store(db)), latency)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


@contextlib.contextmanager
def server(db: Path, latency: float) -> Iterator[str]:
    """The local server on ``db`` in a subprocess; yields its base URL."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(db), str(port), str(latency)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                assert proc.stderr is not None
                raise CommandFailed(f"the local server did not start: {proc.stderr.read()[-500:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if time.monotonic() > deadline:
                raise CommandFailed("the local server did not listen within 20 s")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def plan_http(data: Dataset, workdir: Path, repeat: int) -> float:
    """Measurement 4: plan against the local server serving the same live jobs."""
    db = seeded_store(workdir, f"http-{data.size}", data.live)
    env = http_env()
    cmd = [*reconciler_cmd(), "plan", str(data.root), "--product", PRODUCT]
    with server(db, 0.0) as url:
        check_summary(run([*cmd, "--target", url, "--format", "json"], capture=True, env=env), data)
        return time_cmd([*cmd, "--target", url], repeat, env=env)


def apply_http(workdir: Path, count: int, repeat: int) -> dict[str, float]:
    """Measurement 5: apply ``count`` creates at 20 ms a request, parallelism 1 vs default."""
    from reconciler.apply import DEFAULT_PARALLELISM

    root = workdir / f"apply-{count}"
    for i in range(count):
        path = root / f"job-{i:05d}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(manifest_text(job_fields(i), i), encoding="utf-8")
    env = http_env()
    figures: dict[str, float] = {}
    for parallelism in (1, DEFAULT_PARALLELISM):
        times = []
        for r in range(repeat):
            db = seeded_store(workdir, f"apply-{count}-p{parallelism}-{r}", [])
            with server(db, LATENCY_S) as url:
                cmd = [*reconciler_cmd(), "apply", str(root), "--target", url]
                cmd += ["--product", PRODUCT, "--auto-approve", f"--parallelism={parallelism}"]
                start = time.perf_counter()
                run(cmd, env=env)
                times.append(time.perf_counter() - start)
        figures[f"p{parallelism}_s"] = statistics.median(times)
    figures["parallelism"] = DEFAULT_PARALLELISM
    figures["speedup"] = figures["p1_s"] / figures[f"p{DEFAULT_PARALLELISM}_s"]
    return figures


# --- 3, 6 and the extra: plan, memory, diff -----------------------------------------------------


def check_summary(output: str, data: Dataset) -> None:
    summary = json.loads(output)["summary"]
    want = {"create": 0, "update": data.updates, "unchanged": data.size - data.updates}
    got = {key: summary.get(key) for key in want}
    if got != want or summary.get("unmanaged", 0) != 0:
        raise CommandFailed(f"plan at {data.size}: summary {summary}, expected {want}")


_RSS_WRAPPER = textwrap.dedent(
    """
    import resource, subprocess, sys
    code = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(code, rss * (1 if sys.platform == "darwin" else 1024))
    """
)


def peak_rss_mb(cmd: Sequence[str]) -> float:
    """Max RSS of one run of ``cmd``, measured by a fresh wrapper process that only runs it."""
    out = run([sys.executable, "-c", _RSS_WRAPPER, *cmd], capture=True).split()
    if out[0] != "0":
        raise CommandFailed(f"{' '.join(cmd[:3])} ...: exit {out[0]} under the RSS wrapper")
    return int(out[1]) / 2**20


def diff_figures(data: Dataset, repeat: int) -> dict[str, float]:
    """deepdiff on every (live, desired) pair vs field_changes on the pairs that differ."""
    from deepdiff import DeepDiff

    from reconciler.diff import field_changes

    wire = [(live.to_wire(), want.to_wire()) for live, want in data.pairs]
    differing = [(live, want) for live, want in data.pairs if live != want]
    return {
        "deepdiff_all_pairs_s": median_time(
            lambda: [DeepDiff(a, b, view="tree") for a, b in wire], repeat
        ),
        "field_changes_differing_s": median_time(
            lambda: [field_changes(a, b) for a, b in differing], repeat
        ),
    }


# --- one size ----------------------------------------------------------------------------------


@dataclass
class Options:
    repeat: int
    quick: bool
    peer: list[str] | None
    peer_note: str
    http_note: str | None


def measure_size(data: Dataset, workdir: Path, opts: Options) -> dict[str, Any]:
    rec = reconciler_cmd()
    repeat = opts.repeat
    validator = compiled_validator()
    if floor_pass(data.root, validator) != data.size:
        raise CommandFailed(f"floor at {data.size}: not every document was valid")
    out: dict[str, Any] = {"jobs": data.size, "updates": data.updates}
    out["floor_s"] = median_time(lambda: floor_pass(data.root, validator), repeat)
    out["floor_fresh_process_s"] = time_cmd(
        [sys.executable, __file__, "--floor-of", str(data.root)], repeat
    )
    out["parse_c_s"] = median_time(lambda: parse_only(data.root, C_LOADER), repeat)
    out["parse_pure_s"] = median_time(lambda: parse_only(data.root, PY_LOADER), repeat)

    out["validate_s"] = time_cmd([*rec, "validate", str(data.root)], repeat)

    out["check_jsonschema_s"] = None
    if opts.peer:
        fixed = [*opts.peer, "--schemafile", str(SCHEMA_PATH)]
        groups = batches(data.files, fixed)
        out["check_jsonschema_batches"] = len(groups)

        def peer() -> None:
            for group in groups:
                run([*fixed, *group], cwd=data.root)

        out["check_jsonschema_s"] = median_time(peer, repeat)

    target = f"sqlite:///{data.store}"
    plan_cmd = [*rec, "plan", str(data.root), "--target", target, "--product", PRODUCT]
    check_summary(run([*plan_cmd, "--format", "json"], capture=True), data)
    out["plan_sqlite_s"] = time_cmd(plan_cmd, repeat)
    out["plan_sqlite_json_s"] = time_cmd([*plan_cmd, "--format", "json"], repeat)
    out["plan_peak_rss_mb"] = peak_rss_mb(plan_cmd)
    out["validate_peak_rss_mb"] = peak_rss_mb([*rec, "validate", str(data.root)])

    out["plan_http_s"] = None if opts.http_note else plan_http(data, workdir, repeat)
    out.update(diff_figures(data, repeat))
    return out


# --- report ------------------------------------------------------------------------------------


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def targets(results: dict[int, dict[str, Any]], extra: dict[str, Any]) -> list[dict[str, Any]]:
    """PASS/FAIL per target of the issue, at 10,000 jobs (or the largest size run)."""
    ref = 10_000 if 10_000 in results else max(results)
    r = results[ref]
    out: list[dict[str, Any]] = []

    def judge(name: str, value: float | None, ok: Callable[[float], bool], shown: str) -> None:
        status = "n/a" if value is None else ("PASS" if ok(value) else "FAIL")
        out.append({"target": name, "status": status, "value": value, "detail": shown})

    speed = _ratio(r["check_jsonschema_s"], r["validate_s"])
    judge(
        f"validate >= {VALIDATE_VS_PEER_MIN:g}x faster than check-jsonschema at {ref}",
        speed,
        lambda v: v >= VALIDATE_VS_PEER_MIN,
        f"{speed:.2f}x" if speed else "check-jsonschema not measured",
    )
    v_floor = _ratio(r["validate_s"], r["floor_s"])
    judge(
        f"validate within {VALIDATE_VS_FLOOR_MAX:g}x of the floor at {ref}",
        v_floor,
        lambda v: v <= VALIDATE_VS_FLOOR_MAX,
        f"{v_floor:.2f}x" if v_floor else "",
    )
    p_floor = _ratio(r["plan_sqlite_s"], r["floor_s"])
    judge(
        f"plan (embedded) within {PLAN_VS_FLOOR_MAX:g}x of the floor at {ref}",
        p_floor,
        lambda v: v <= PLAN_VS_FLOOR_MAX,
        f"{p_floor:.2f}x" if p_floor else "",
    )
    h_floor = _ratio(r["plan_http_s"], r["floor_s"])
    judge(
        f"plan over HTTP within {PLAN_HTTP_VS_FLOOR_MAX:g}x of the floor at {ref}",
        h_floor,
        lambda v: v <= PLAN_HTTP_VS_FLOOR_MAX,
        f"{h_floor:.2f}x" if h_floor else HTTP_NA,
    )
    for key, label in (("validate_s", "validate"), ("plan_sqlite_s", "plan")):
        growth = None
        if 10_000 in results and 50_000 in results:
            small, big = results[10_000], results[50_000]
            growth = (big[key] / big["jobs"]) / (small[key] / small["jobs"])
        judge(
            f"{label}: time per job from 10,000 to 50,000 within {SCALING_MAX:g}x",
            growth,
            lambda v: v <= SCALING_MAX,
            f"{growth:.2f}x" if growth else "needs --sizes with 10000 and 50000",
        )
    apply = extra.get("apply_http")
    speedup = apply["speedup"] if apply else None
    need = PARALLEL_EFFICIENCY_MIN * (apply["parallelism"] if apply else 4)
    judge(
        f"parallel apply speed-up >= {PARALLEL_EFFICIENCY_MIN:g} x parallelism",
        speedup,
        lambda v: v >= need,
        f"{speedup:.2f}x (need {need:g}x)" if speedup else HTTP_NA,
    )
    rss = r["plan_peak_rss_mb"]
    judge(
        f"peak RSS of the plan at {ref} < {PEAK_RSS_MAX_MB:g} MB",
        rss,
        lambda v: v < PEAK_RSS_MAX_MB,
        f"{rss:.0f} MB",
    )
    start = extra["startup_help_s"]
    judge(
        f"reconciler --help < {HELP_MAX_S:g} s",
        start,
        lambda v: v < HELP_MAX_S,
        f"{start:.3f} s",
    )
    return out


def _row(label: str, seconds: float | None, jobs: int, floor: float, note: str = "") -> str:
    if seconds is None:
        return f"  {label:<50} {note}"
    per_job = seconds / jobs * 1e6
    return f"  {label:<50} {seconds:>9.3f} {per_job:>9.1f} {seconds / floor:>8.2f}x  {note}"


def print_table(
    results: dict[int, dict[str, Any]],
    extra: dict[str, Any],
    checks: list[dict[str, Any]],
    opts: Options,
) -> None:
    print(f"reconciler benchmark: medians of {opts.repeat} run(s); CLI timings include start-up")
    for size, r in results.items():
        floor = r["floor_s"]
        print(f"\n{size} jobs ({r['updates']} changed live)")
        print(f"  {'measurement':<50} {'seconds':>9} {'us/job':>9} {'vs floor':>9}")
        print(_row("1  floor: read + CSafeLoader + jsonschema", floor, size, floor, "in-process"))
        print(_row("1  floor, in a fresh interpreter", r["floor_fresh_process_s"], size, floor))
        print(_row("1a parse only, CSafeLoader", r["parse_c_s"], size, floor, "in-process"))
        print(_row("1b parse only, pure-Python SafeLoader", r["parse_pure_s"], size, floor))
        print(_row("2  reconciler validate", r["validate_s"], size, floor))
        peer = r["check_jsonschema_s"]
        note = opts.peer_note
        if peer:
            n = r["check_jsonschema_batches"]
            batch = f"{n} batches, times summed; " if n > 1 else ""
            note = f"{batch}validate is {peer / r['validate_s']:.1f}x faster"
        print(_row("2  check-jsonschema --schemafile", peer, size, floor, note))
        rows = [
            ("3  reconciler plan --target sqlite (text)", r["plan_sqlite_s"], ""),
            ("3  reconciler plan --target sqlite --format json", r["plan_sqlite_json_s"], ""),
            ("4  reconciler plan --target http", r["plan_http_s"], opts.http_note or ""),
        ]
        for label, seconds, note in rows:
            print(_row(label, seconds, size, floor, note))
        rss = f"{r['plan_peak_rss_mb']:.0f} MB / {r['validate_peak_rss_mb']:.0f} MB"
        print(f"  {'6  peak RSS: plan / validate':<50} {rss:>9}")
        rows = [
            ("   deepdiff on all pairs", r["deepdiff_all_pairs_s"], "in-process"),
            ("   field_changes on the differing pairs", r["field_changes_differing_s"], "ditto"),
        ]
        for label, seconds, note in rows:
            print(_row(label, seconds, size, floor, note))
    print()
    print(f"7  reconciler --help: {extra['startup_help_s']:.3f} s (median of {extra['help_runs']})")
    apply = extra.get("apply_http")
    if apply:
        p = int(apply["parallelism"])
        print(
            f"5  apply {extra['apply_jobs']} creates over HTTP, {LATENCY_S * 1000:g} ms latency: "
            f"--parallelism 1 {apply['p1_s']:.2f} s, --parallelism {p} {apply[f'p{p}_s']:.2f} s, "
            f"speed-up {apply['speedup']:.2f}x"
        )
    else:
        print(f"5  apply over HTTP: {opts.http_note}")
    print("\ntargets")
    for check in checks:
        print(f"  {check['status']:<5} {check['target']}: {check['detail']}")


# --- main --------------------------------------------------------------------------------------


def find_peer(quick: bool, given: str | None) -> tuple[list[str] | None, str]:
    if quick:
        return None, "n/a (skipped: --quick)"
    candidates: list[str | None] = [given] if given else []
    candidates.append(shutil.which("check-jsonschema"))
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return [candidate], ""
    return None, (
        "n/a (check-jsonschema not found: pip install check-jsonschema, "
        "or pass --check-jsonschema PATH)"
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--sizes", default="1000,10000,50000", help="comma-separated job counts")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--json-only", action="store_true", help="print only the JSON line")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="skip the peer tools and shrink the HTTP apply (for smoke tests)",
    )
    parser.add_argument("--check-jsonschema", metavar="PATH", help="the peer's executable")
    parser.add_argument("--keep", metavar="DIR", help="generate into DIR and keep it")
    parser.add_argument("--serve", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--floor-of", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.size_list = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    if not args.size_list or min(args.size_list) < 10 or args.repeat < 1:
        parser.error("--sizes wants counts >= 10 and --repeat >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve:
        db, port, latency = args.serve
        serve(db, int(port), float(latency))
        return 0
    if args.floor_of:
        floor_pass(Path(args.floor_of), compiled_validator())
        return 0
    peer, peer_note = find_peer(args.quick, args.check_jsonschema)
    opts = Options(args.repeat, args.quick, peer, peer_note, http_support())
    say: Callable[[str], None] = (
        (lambda _m: None) if args.json_only else (lambda m: print(m, file=sys.stderr, flush=True))
    )
    results: dict[int, dict[str, Any]] = {}
    extra: dict[str, Any] = {}
    failure: str | None = None
    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="reconciler-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        help_runs = 3 if args.quick else 10
        extra["help_runs"] = help_runs
        extra["startup_help_s"] = time_cmd([*reconciler_cmd(), "--help"], help_runs)
        for size in args.size_list:
            say(f"[{size}] generating manifests and the live store ...")
            data = generate(workdir, size)
            say(f"[{size}] measuring ...")
            results[size] = measure_size(data, workdir, opts)
        if opts.http_note is None:
            count = APPLY_JOBS_QUICK if args.quick else APPLY_JOBS
            extra["apply_jobs"] = count
            say(f"apply over HTTP: {count} creates x 2 settings x {args.repeat} ...")
            extra["apply_http"] = apply_http(workdir, count, args.repeat)
    except CommandFailed as exc:
        failure = str(exc)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    checks = targets(results, extra) if results and "startup_help_s" in extra else []
    if not args.json_only and results:
        print_table(results, extra, checks, opts)
    if failure:
        print(f"\nerror: a command failed: {failure}", file=sys.stderr)
    notes = [
        "CLI timings are subprocesses and include interpreter start-up; the floor is in-process",
        "plan targets compare against the validate floor (read + parse + schema)",
    ]
    if opts.peer_note:
        notes.append(f"check-jsonschema: {opts.peer_note}")
    if opts.http_note:
        notes.append(opts.http_note)
    report = {
        "benchmark": "reconciler",
        "python": platform.python_version(),
        "yaml_libyaml": bool(getattr(yaml, "__with_libyaml__", False)),
        "repeat": args.repeat,
        "sizes": args.size_list,
        "results": {str(size): r for size, r in results.items()},
        "startup_help_s": extra.get("startup_help_s"),
        "apply_http": extra.get("apply_http"),
        "apply_jobs": extra.get("apply_jobs"),
        "targets": checks,
        "notes": notes,
        "error": failure,
    }
    print(json.dumps(report, separators=(",", ":")))
    return 1 if failure else 0


if __name__ == "__main__":
    sys.exit(main())
