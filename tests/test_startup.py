"""Each command imports only what it uses: checked by importing, in a fresh interpreter.

A pre-commit hook runs ``validate`` on every commit, so what a short command imports is what
a user waits for. No timing here (a timed test is flaky on a shared machine); the benchmark
(``benchmarks/speed.py``) measures the seconds.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reconciler.diff import field_changes
from reconciler.model import Job
from testing.cli import invoke

VALID = Path(__file__).parent / "data" / "valid"

# Run a command in-process in a fresh interpreter, then print every module it loaded.
_RUN = """
import json, sys
from reconciler.cli import main
try:
    main.main(sys.argv[1:], prog_name="reconciler")
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""

NEVER_FOR_VALIDATE = (
    "deepdiff",
    "httpx",
    "asyncio",
    "starlette",
    "cachebox",
    "jsonschema",
    "sqlite3",
)
NEVER_FOR_A_LOCAL_PLAN = ("httpx", "httpcore", "starlette", "uvicorn", "ruamel")


def _python(script: str, *args: str, cwd: Path | None = None, columns: int = 120) -> Any:
    """A fresh interpreter running ``script`` with ``args``, on a terminal of ``columns``."""
    env = {**os.environ, "COLUMNS": str(columns)}
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=60,
        check=False,
    )


def _loaded(*args: str, cwd: Path, whole: bool = False) -> tuple[int, set[str]]:
    """The exit code and the top-level packages loaded (every module's name when ``whole``)."""
    proc = _python(_RUN, *args, cwd=cwd)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    names = set(out["modules"])
    return out["code"], names if whole else {name.split(".")[0] for name in names}


def _manifest(path: Path, tag: str, executions: int) -> None:
    path.write_text(
        f"tag: {tag}\nname: Nightly\nevent_type: action\nevent_tag: stripe:list_charges\n"
        f"executions: {executions}\nintervals: 1h\nstart_at: 2027-06-01T09:00:00Z\n"
    )


def test_validate_loads_neither_deepdiff_nor_http_nor_asyncio(tmp_path: Path) -> None:
    code, modules = _loaded("validate", str(VALID / "canonical.yaml"), cwd=tmp_path)

    assert code == 0
    assert "yaml" in modules and "jsonschema_rs" in modules  # it did validate
    assert sorted(modules & set(NEVER_FOR_VALIDATE)) == []


def test_validate_loads_not_the_apply_engine(tmp_path: Path) -> None:
    # The reports and reporters name apply's records in annotations only; apply's report is
    # imported where an apply summary is written.
    code, modules = _loaded("validate", str(VALID / "canonical.yaml"), cwd=tmp_path, whole=True)

    assert code == 0
    assert "reconciler.desired" in modules
    assert "reconciler.apply" not in modules


def test_validate_reads_the_schema_without_importlib_resources(tmp_path: Path) -> None:
    # The schema is a file beside the module: importlib.resources (tempfile, shutil, zipfile
    # and more) is for a package that is not on disk. Nor does validate write (secrets), hash
    # (hashlib) or read a saved plan (planfile): the README's Speed section says so.
    code, modules = _loaded("validate", str(VALID / "canonical.yaml"), cwd=tmp_path, whole=True)

    assert code == 0
    unneeded = {"importlib.resources", "tempfile", "secrets", "hashlib", "reconciler.planfile"}
    assert sorted(modules & unneeded) == []


def test_the_schema_is_read_through_importlib_when_not_beside_the_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reconciler import schema

    shipped = (Path(schema.__file__).parent / "schemas" / "job.schema.json").read_text("utf-8")
    monkeypatch.setattr(schema, "_PACKAGE_DIR", str(tmp_path / "a-zip-say"))
    assert schema.job_schema_text() == shipped


def test_an_invalid_manifest_is_still_explained(tmp_path: Path) -> None:
    # The python jsonschema is imported lazily: only an invalid document needs its words.
    bad = tmp_path / "bad.yaml"
    bad.write_text("tag: x\nname: X\nevent_type: action\nevent_tag: a\nintervals: soon\n")
    code, modules = _loaded("validate", str(bad), cwd=tmp_path)

    assert code == 1
    assert "jsonschema" in modules
    assert "deepdiff" not in modules


def test_plan_against_the_embedded_store_loads_no_http_client(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    _manifest(jobs / "a.yaml", "a", 1)
    _manifest(jobs / "b.yaml", "b", 1)
    target = f"sqlite:///{tmp_path / 'live.db'}"
    assert invoke("apply", str(jobs), "--target", target, "--auto-approve")[0] == 0
    _manifest(jobs / "a.yaml", "a", 5)  # one update, one create: every path of the diff
    _manifest(jobs / "c.yaml", "c", 1)

    code, modules = _loaded(
        "plan", str(jobs), "--target", target, "--detailed-exitcode", cwd=tmp_path
    )

    assert code == 2  # there are changes: the plan did compare
    assert sorted(modules & set(NEVER_FOR_A_LOCAL_PLAN)) == []
    assert "deepdiff" not in modules  # a job's fields are flat: the fast path compares them
    _, every = _loaded("plan", str(jobs), "--target", target, cwd=tmp_path, whole=True)
    # What only a write, a saved plan, a snapshot or the spread needs.
    unneeded = {"secrets", "hashlib", "reconciler.planfile", "reconciler.snapshot"}
    assert "reconciler.timeline" in every and sorted(every & unneeded) == []


_VALUES: list[object] = ["a", "", 0, 1, 1.0, True, False, None, "1"]


@pytest.mark.parametrize(("a", "b"), list(itertools.product(_VALUES, repeat=2)))
def test_the_flat_comparison_finds_what_deepdiff_finds(a: object, b: object) -> None:
    from reconciler.diff import _deep_names, _flat_names

    old = {"tag": "t", "x": a}
    new = {"tag": "t", "x": b}
    assert _flat_names(old, new) == _deep_names(old, new)
    assert _flat_names(old, {"tag": "t"}) == _deep_names(old, {"tag": "t"}) == {"x"}


def test_field_changes_of_jobs_in_field_order() -> None:
    live = Job.from_mapping(
        {
            "tag": "t",
            "name": "N",
            "event_type": "action",
            "event_tag": "e",
            "executions": 1,
            "intervals": "1h",
            "start_at": 1_800_000_000_000,
        }
    )
    desired = Job.from_mapping(
        {**live.to_wire(), "name": "M", "start_at": 1_800_000_000_001, "executions": 1}
    )
    changes = field_changes(live, desired)

    assert [(c.field, c.old, c.new) for c in changes] == [
        ("name", "N", "M"),
        ("start_at", 1_800_000_000_000, 1_800_000_000_001),
    ]
    assert field_changes(live, desired, ignore=("name",))[0].field == "start_at"


# The console script as pip writes it: argv[0] is the script, "reconciler".
_SCRIPT = """
import json, sys
sys.argv[0] = "reconciler"
from reconciler.__main__ import run
run()
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def _script(*args: str, columns: int) -> tuple[str, set[str]]:
    """What the ``reconciler`` script prints for ``args`` on a terminal of ``columns``, and
    the top-level packages it loaded."""
    proc = _python(_SCRIPT, *args, columns=columns)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, {name.split(".")[0] for name in json.loads(proc.stderr)}


def test_the_saved_top_help_is_what_click_renders_today() -> None:
    # Fails when a command, an option of the group or a docstring changes and help.txt was
    # not written again: python -m reconciler.cli.helptext
    from reconciler.__main__ import HELP_FILE
    from reconciler.cli.helptext import rendered

    assert Path(HELP_FILE).read_text(encoding="utf-8") == rendered()
    # ... and rendered() is what click prints on a wide terminal.
    proc = _python("from reconciler.cli import main; main(['--help'], 'reconciler')")
    assert proc.stdout == rendered()


@pytest.mark.parametrize("args", [("--help",), ("-h",), ()])
def test_the_top_help_loads_no_click_and_prints_clicks_words(args: tuple[str, ...]) -> None:
    from reconciler.cli.helptext import rendered

    out, modules = _script(*args, columns=120)

    assert out == rendered()
    assert "click" not in modules


def test_a_narrow_terminal_and_any_other_command_go_through_click() -> None:
    from reconciler.cli.helptext import rendered

    narrow, modules = _script("--help", columns=60)
    assert "click" in modules
    assert narrow.startswith("Usage: reconciler [OPTIONS] COMMAND [ARGS]...\n")
    assert narrow != rendered()  # laid out for 60 columns, not from the saved copy
    _, modules = _script("plan", "--help", columns=120)
    assert "click" in modules


def test_the_saved_help_on_a_full_disk_is_one_line_and_exit_1() -> None:
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-c", _SCRIPT, "--help"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "COLUMNS": "120"},
            timeout=60,
            check=False,
        )
    assert proc.returncode == 1
    assert proc.stderr == "error: cannot write to standard output: No space left on device\n"
