"""The synthetic manifests and the live store that mirrors them, one in ten jobs changed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PRODUCT = "bench"

_EVENT_TYPES = ("action", "Notification", "database_action", "FUNCTION")
_EVENT_TAGS = ("stripe:list_charges_{}", "weekly_digest_{}", "orders:archive_{}", "kpis_{}")
_INTERVALS: tuple[str | int, ...] = ("1h30m", "15m", 3_600_000, "1d", "90s", "1w")
_BASE_MS = 1_796_090_400_000  # 2026-12-01T02:00:00Z
EVENT_TAG_VARIANTS = 50  # job_fields() uses event tags ..._0 to ..._49


def job_fields(i: int) -> dict[str, Any]:
    """The manifest fields of job ``i``, friendly and canonical forms mixed."""
    kind = i % 4
    data: dict[str, Any] = {
        "name": f"Synthetic job {i}",
        "tag": f"job_{i:06d}",
        "event_type": _EVENT_TYPES[kind],
        "event_tag": _EVENT_TAGS[kind].format(i % EVENT_TAG_VARIANTS),
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


def wire_job(i: int) -> dict[str, Any]:
    """Job ``i`` in canonical wire form, as the target would send it."""
    from reconciler.model import Job

    wire: dict[str, Any] = Job.from_mapping(job_fields(i)).to_wire()
    return wire


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


def write_manifests(root: Path, count: int, layout: str = "jobs/team-{team:03d}/") -> list[str]:
    """Write manifests for jobs 0..count-1 under ``root``; their paths relative to it."""
    files = []
    for i in range(count):
        rel = f"{layout.format(team=i // 1000)}job-{i:06d}.yaml"
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(manifest_text(job_fields(i), i), encoding="utf-8")
        files.append(rel)
    return files


def fill(store: Any, product_id: str, live: list[dict[str, Any]]) -> None:
    """Insert live jobs into the store's table in one transaction.

    Faster than the store's own one-transaction-per-job writes by minutes at 50,000 jobs; the
    only place the benchmarks know the store's table.
    """
    from reconciler.targets.local import new_id

    rows = []
    for wire in live:
        doc = {"_id": new_id(), **wire}
        rows.append((doc["_id"], product_id, doc["tag"], json.dumps(doc)))
    with store.transaction() as conn:
        conn.executemany("INSERT INTO jobs (id, product_id, tag, doc) VALUES (?, ?, ?, ?)", rows)


def open_store(path: Path) -> Any:
    from reconciler.targets.local import Store

    return Store(str(path))


def generate(workdir: Path, size: int) -> Dataset:
    """Write ``size`` manifests and a SQLite store with the same jobs, one in ten changed."""
    from reconciler.model import Job

    root = workdir / f"manifests-{size}"
    files = write_manifests(root, size)
    live: list[dict[str, Any]] = []
    pairs: list[tuple[Job, Job]] = []
    for i in range(size):
        job = Job.from_mapping(job_fields(i))
        wire = changed_live(i, job.to_wire()) if i % 10 == 0 else job.to_wire()
        live.append(wire)
        pairs.append((Job.from_mapping(wire), job))

    store_path = workdir / f"live-{size}.db"
    store = open_store(store_path)
    try:
        fill(store, store.ensure_product(PRODUCT).id, live)
    finally:
        store.close()
    updates = sum(1 for have, want in pairs if have != want)
    return Dataset(size, root, sorted(files), store_path, pairs, updates, live)
