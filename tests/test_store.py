"""The SQLite store: refuses files that are not stores, never writes on a read, reports
damaged rows instead of stopping on them."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from reconciler.errors import TargetError
from reconciler.model import Job
from reconciler.targets.local import LocalTarget
from reconciler.targets.store import NotAStore, Store

JOB = Job.from_mapping(
    {
        "tag": "nightly",
        "name": "Nightly",
        "event_type": "function",
        "event_tag": "f",
        "intervals": 60_000,
        "start_at": 1_796_083_200_000,
    }
)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_a_database_that_is_not_a_store_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)")
    before = digest(path)
    target = LocalTarget(str(path))
    for call in (target.fetch_jobs, lambda: target.create_job(JOB)):
        with pytest.raises(NotAStore) as caught:
            call()
        assert str(caught.value) == (
            f"{path} is not a reconciler store (it holds users); "
            "name another file with --target sqlite:///PATH"
        )
    target.close()
    assert digest(path) == before and files(tmp_path) == ["app.db"]
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


def test_a_file_that_is_not_sqlite_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("just some text, long enough to not be an empty database file\n" * 20)
    before = digest(path)
    target = LocalTarget(str(path))
    with pytest.raises(TargetError) as caught:
        target.fetch_jobs()
    target.close()
    assert str(caught.value) == f"cannot open the local store {path}: file is not a database"
    assert digest(path) == before


def test_reading_a_store_writes_nothing(tmp_path: Path) -> None:
    """A store in rollback-journal mode (made by another tool): plan's read keeps its bytes,
    its journal mode and its folder as they were."""
    path = tmp_path / "live.db"
    target = LocalTarget(str(path))
    target.create_job(JOB)
    target.close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=DELETE")
    before, listing = digest(path), files(tmp_path)
    reader = LocalTarget(str(path))
    assert [j.tag for j in reader.fetch_jobs()] == ["nightly"]
    assert reader.fetch_job("nightly") == JOB
    reader.catalogue()
    reader.close()
    assert digest(path) == before and files(tmp_path) == listing
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


def test_reading_a_wal_store_leaves_no_files_behind(tmp_path: Path) -> None:
    path = tmp_path / "live.db"
    target = LocalTarget(str(path))
    target.create_job(JOB)
    target.close()
    before, listing = digest(path), files(tmp_path)
    assert listing == ["live.db"]
    reader = LocalTarget(str(path))
    assert reader.fetch_job("nightly") == JOB
    reader.close()
    assert digest(path) == before and files(tmp_path) == listing


def test_reading_a_missing_store_creates_nothing(tmp_path: Path) -> None:
    target = LocalTarget(str(tmp_path / "sub" / "live.db"))
    assert list(target.fetch_jobs()) == [] and target.fetch_job("x") is None
    target.close()
    assert files(tmp_path) == []


def test_damaged_rows_are_reported_not_raised(tmp_path: Path) -> None:
    path = tmp_path / "live.db"
    target = LocalTarget(str(path))
    target.create_job(JOB)
    target.create_job(Job.from_mapping({**JOB.to_wire(), "tag": "other"}))
    target.close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE jobs SET doc = '[1, 2]' WHERE tag = 'nightly'")
        conn.execute("UPDATE jobs SET doc = ? WHERE tag = 'other'", ("[" * 100_000,))
    reader = LocalTarget(str(path))
    live = reader.fetch_jobs()
    reader.close()
    assert list(live) == []
    assert sorted(m.tag or "" for m in live.malformed) == ["nightly", "other"]
    for bad in live.malformed:
        assert "\n" not in bad.message and bad.message.startswith("live job")
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE products SET doc = '\"a string\"'")
    store = Store(str(path), writable=False)
    with pytest.raises(TargetError, match=r"product \w+ is not a JSON object; the row is damaged$"):
        store.product_document(store.products("0" * 24)[0].id)
    store.close()


def _store_with_docs(path: Path, docs: list[object]) -> tuple[Store, str]:
    """A store whose product holds one row per entry of ``docs``, each row's doc text as given
    (bytes and integers stored as such)."""
    target = LocalTarget(str(path))
    for i in range(len(docs)):
        target.create_job(Job.from_mapping({**JOB.to_wire(), "tag": f"job{i}"}))
    target.close()
    with sqlite3.connect(path) as conn:
        for i, doc in enumerate(docs):
            conn.execute("UPDATE jobs SET doc = ? WHERE tag = ?", (doc, f"job{i}"))
    store = Store(str(path), writable=False)
    return store, store.products("0" * 24)[0].id


def _one_row_at_a_time(store: Store, product_id: str) -> list[object]:
    """What job_documents must equal: each row read on its own."""
    rows = store.read("SELECT tag FROM jobs WHERE product_id = ? ORDER BY seq", (product_id,))
    return [store.job_document(product_id, tag) for (tag,) in rows]


@pytest.mark.parametrize(
    "docs",
    [
        # Joined by commas, these three rows parse as three objects, none of them a row's:
        # only SQLite's check that each row is one whole JSON text keeps them apart.
        ['{"tag": "a"}, {"tag": "b"}', '{"tag": "c", "x": "', '"}'],
        ['{"tag": "a"}', "[1, 2]", '{"tag": "c"}'],  # valid JSON, not an object
        ['{"tag": "a"}', '{"tag": NaN}', '{"tag": "c"}'],  # Python reads NaN, SQLite does not
        ['{"tag": "a"}', b'{"tag": "b"}', 7, "7"],  # a blob, an integer, a number
        ['{"tag": "a"}', "[" * 2_000 + "]" * 2_000],  # too deep for the parser
        ['{"tag": "a", "n": ' + "9" * 5_000 + "}", '{"tag": "b"}'],  # too many digits
        ['{"tag": "a"}', ' {"tag": "b", "nested": {"k": [1, 2.5, null, true]}} ', '{"tag": "c"}'],
    ],
)
def test_job_documents_read_together_equal_each_row_read_alone(
    tmp_path: Path, docs: list[object]
) -> None:
    store, product_id = _store_with_docs(tmp_path / "live.db", docs)
    try:
        assert store.job_documents(product_id) == _one_row_at_a_time(store, product_id)
    finally:
        store.close()


@pytest.mark.slow
def test_a_busy_store_waits_only_as_long_as_told(tmp_path: Path) -> None:
    import time

    path = tmp_path / "busy.db"
    first = LocalTarget(str(path))
    first.create_job(JOB)
    first.close()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        target = LocalTarget(str(path), busy_timeout=0.3)
        started = time.monotonic()
        with pytest.raises(TargetError, match="database is locked"):
            target.create_job(Job.from_mapping({**JOB.to_wire(), "tag": "second"}))
        took = time.monotonic() - started
        target.close()
    finally:
        other.execute("ROLLBACK")
        other.close()
    # Told 0.3 s (the default is 10 s): 2.5 s leaves a loaded 2-core machine room to answer.
    assert took < 2.5, took


def test_write_many_lands_every_write_in_one_transaction(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "live.db"))
    product = store.ensure_product("p").id
    store.create_job(product, {"tag": "taken", "name": "x"})

    out = store.write_many(
        product,
        [
            (None, {"tag": "a", "name": "A"}),
            (None, {"tag": "taken", "name": "again"}),  # refused: the others still land
            ("taken", {"name": "renamed"}),
            ("nobody", {"name": "x"}),  # refused: no such job
        ],
    )

    assert [type(o).__name__ for o in out] == ["dict", "JobExists", "dict", "TargetError"]
    assert [d["tag"] for d in store.job_documents(product)] == ["taken", "a"]
    assert store.job_document(product, "taken")["name"] == "renamed"
    store.close()
