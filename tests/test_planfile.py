"""Saved plans are input: a tampered plan file is refused in one line and nothing is written.

Each tamper case is a small function that takes a genuine plan (as ``plan --out`` saved it,
parsed) and returns the hostile file: a changed document, or raw text for what JSON itself
lets through (a repeated key, ``Infinity``, deep nesting). Every case is applied to a real
SQLite store and shown; a few also to a real local server.
"""

from __future__ import annotations

import copy
import json
import os
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconciler import planfile
from reconciler.errors import UsageError
from reconciler.model import MUTABLE_FIELDS
from reconciler.schema import plan_schema
from reconciler.targets.local import LocalTarget
from testing.cli import invoke as run
from testing.server import RunningServer

EXAMPLES = Path(__file__).parent.parent / "examples" / "jobs"
UPDATED = "billing.retry_failed"  # the fixture's plan updates its intervals
CREATED = "fresh_job"  # and creates this one
NEW_JOB = """\
name: A fresh job
tag: fresh_job
event_type: function
event_tag: compute_kpis
intervals: 30s  # a warning: the plan carries a problem
start_at: 2037-01-01T00:00:00Z
"""
Doc = dict[str, Any]
Tamper = Callable[[Doc], "Doc | str | bytes"]


@pytest.fixture
def work(examples_repo: Path) -> Path:
    """Examples applied to a real SQLite store, then edited: one update and one create."""
    tmp_path = examples_repo
    code, _, err = run("apply", "jobs", "--target", STORE, "--auto-approve")
    assert code == 0, err
    billing = tmp_path / "jobs" / "billing" / "jobs.yaml"
    billing.write_text(billing.read_text().replace("intervals: 1h30m", "intervals: 30m"))
    (tmp_path / "jobs" / "fresh.yaml").write_text(NEW_JOB)
    return tmp_path


STORE = "sqlite:///live.db"


def make_plan(target: str = STORE, env: dict[str, str] | None = None) -> Doc:
    code, _, err = run("plan", "jobs", "--target", target, "--out", "plan.json", env=env)
    assert code == 0, err
    data: Doc = json.loads(Path("plan.json").read_text())
    assert [(c["action"], c["tag"]) for c in data["changes"] if c["fields"] or not c["live"]] == [
        ("create", CREATED),
        ("update", UPDATED),
    ]
    return data


def live_jobs(path: str = "live.db") -> dict[str, dict[str, Any]]:
    target = LocalTarget(path)
    try:
        return {job.tag: job.to_wire() for job in target.fetch_jobs()}
    finally:
        target.close()


# --- tamper helpers ---------------------------------------------------------------------------


def change(data: Doc, tag: str) -> Doc:
    found: Doc = next(c for c in data["changes"] if c["tag"] == tag)
    return found


def set_field(data: Doc, tag: str, field: str, value: Any) -> Doc:
    """Set a field of the job a change writes, consistently: its desired job and its field
    change, as an attacker who understood the format would."""
    c = change(data, tag)
    c["desired"][field] = value
    if c["live"] is not None:
        c["fields"] = [f for f in c["fields"] if f["field"] != field]
        c["fields"].append({"field": field, "old": c["live"].get(field), "new": value})
    return data


def text_of(data: Doc) -> str:
    return json.dumps(data)


def rename_tag(data: Doc) -> Doc:
    """The field `tag` in an update: it would rename the live job (and the next plan would
    create the old tag again beside it)."""
    c = change(data, UPDATED)
    c["fields"].append({"field": "tag", "old": UPDATED, "new": "renamed"})
    return data


def retag_desired(data: Doc) -> Doc:
    """The desired job of an update carries another tag than the change."""
    change(data, UPDATED)["desired"]["tag"] = "renamed"
    return data


def retag_everything(data: Doc) -> Doc:
    """A create turned into a second copy of a live job under a hostile tag."""
    c = change(data, CREATED)
    c["tag"] = c["desired"]["tag"] = "x\n::error file=README.md::forged"
    return data


def unknown_field(data: Doc) -> Doc:
    change(data, CREATED)["desired"]["cron"] = "* * * * *"
    return data


def string_number(data: Doc) -> Doc:
    return set_field(data, UPDATED, "executions", "5")


def negative(data: Doc) -> Doc:
    return set_field(data, UPDATED, "executions", -5)


def huge(data: Doc) -> Doc:
    return set_field(data, UPDATED, "intervals", 10**30)


def past_safe_integer(data: Doc) -> Doc:
    return set_field(data, CREATED, "start_at", 2**53)


def infinity(data: Doc) -> str:
    return text_of(set_field(data, UPDATED, "intervals", 123454321)).replace(
        "123454321", "Infinity"
    )


def nan(data: Doc) -> str:
    return text_of(set_field(data, CREATED, "executions", 123454321)).replace("123454321", "NaN")


def exponent(data: Doc) -> str:
    return text_of(set_field(data, UPDATED, "intervals", 123454321)).replace("123454321", "1e400")


def fraction(data: Doc) -> str:
    return text_of(set_field(data, UPDATED, "intervals", 123454321)).replace("123454321", "60000.5")


def control_name(data: Doc) -> Doc:
    return set_field(data, UPDATED, "name", "Retry \x1b[2J\x1b]8;;http://x\x07charges")


def newline_event_tag(data: Doc) -> Doc:
    return set_field(data, CREATED, "event_tag", "compute_kpis\n::warning::x")


def empty_name(data: Doc) -> Doc:
    return set_field(data, CREATED, "name", " ")


def bad_event_type(data: Doc) -> Doc:
    return set_field(data, UPDATED, "event_type", "shell")


def deep(data: Doc) -> str:
    data["changes"][0]["source"] = "@@"
    return text_of(data).replace('"@@"', "[" * 100_000 + "]" * 100_000)


def deep_unbalanced(data: Doc) -> str:
    return text_of(data)[:-1] + ', "x": ' + "[" * 100_000


def duplicate_key(data: Doc) -> str:
    # The second `intervals` would win in a lax reader, unseen by a reviewer of the first.
    text = text_of(data)
    return text.replace('"intervals": 1800000', '"intervals": 1800000, "intervals": 1000', 1)


def duplicate_harmless_key(data: Doc) -> str:
    text = text_of(data)
    return text.replace('"summary_line": ', '"summary_line": "", "summary_line": ', 1)


def duplicate_change(data: Doc) -> Doc:
    data["changes"].append(copy.deepcopy(change(data, UPDATED)))
    return data


def problems_wrong_types(data: Doc) -> Doc:
    data["problems"] = [{"file": 7, "line": "one", "column": [], "tag": {}, "field": 1}]
    return data


def problem_not_object(data: Doc) -> Doc:
    data["problems"] = ["everything is fine"]
    return data


def problem_huge_line(data: Doc) -> Doc:
    data["problems"][0]["line"] = 10**30
    return data


def ignore_widened(data: Doc) -> Doc:
    """start_at ignored: a job whose start moved live would no longer make the plan stale."""
    data["ignore_fields"] = ["start_at"]
    return data


def ignore_unknown(data: Doc) -> Doc:
    data["ignore_fields"] = ["tag"]
    return data


def fields_lie(data: Doc) -> Doc:
    """The field change says one value, the desired job another."""
    change(data, UPDATED)["fields"][0]["new"] = 60_000
    return data


def update_without_change(data: Doc) -> Doc:
    """An update whose desired job is the live one: nothing to write, yet counted."""
    c = change(data, UPDATED)
    c["desired"] = dict(c["live"])
    c["fields"] = []
    return data


def create_over_live(data: Doc) -> Doc:
    """An update relabelled a create (with its live job kept)."""
    change(data, UPDATED)["action"] = "create"
    return data


def summary_lies(data: Doc) -> Doc:
    data["summary"]["create"] = 0
    return data


def changes_not_a_list(data: Doc) -> Doc:
    data["changes"] = {"0": data["changes"][0]}
    return data


def unknown_top_level(data: Doc) -> Doc:
    data["apply_anyway"] = True
    return data


def stray_rename(data: Doc) -> Doc:
    change(data, CREATED)["rename"] = "nightly_sales_report"
    return data


def not_utf8(data: Doc) -> bytes:
    return (
        text_of(data).replace("A fresh job", "A fr\udcffsh job").encode("utf-8", "surrogateescape")
    )


def oversize(data: Doc) -> str:
    return text_of(data)  # made large by the test itself (a sparse file), see OVERSIZE


OVERSIZE = "oversize"

# Each case and a piece of the one line it must draw: each guards its own check.
CASES: list[tuple[Tamper, str]] = [
    (rename_tag, "changes[1].fields[1].field: 'tag' is not one of"),
    (retag_desired, "'renamed' is not the change's tag 'billing.retry_failed'"),
    (retag_everything, "changes[0].desired.tag: 'x\\x0a::error file=README.md::forged' must start"),
    (unknown_field, "('cron' was unexpected)"),
    (string_number, "changes[1].desired.executions: '5' is not a whole number"),
    (negative, "changes[1].desired.executions: -5 is less than the minimum of 0"),
    (huge, "intervals: 1000000000000000000000000000000 is greater than the maximum"),
    (past_safe_integer, "start_at: 9007199254740992 is greater than the maximum"),
    (infinity, "Infinity is not a number a plan holds"),
    (nan, "NaN is not a number a plan holds"),
    (exponent, "1e400: a plan holds whole numbers only"),
    (fraction, "60000.5: a plan holds whole numbers only"),
    (control_name, "changes[1].desired.name: 'Retry \\x1b[2J"),
    (newline_event_tag, "changes[0].desired.event_tag: 'compute_kpis\\x0a::warning::x' must start"),
    (empty_name, "changes[0].desired.name: ' ' is not a non-empty string"),
    (bad_event_type, "event_type: 'shell' is not one of"),
    (deep, "it nests deeper than 16 levels"),
    (deep_unbalanced, "it nests deeper than 16 levels"),
    (duplicate_key, "the key 'intervals' appears twice in one object"),
    (duplicate_harmless_key, "the key 'summary_line' appears twice in one object"),
    (duplicate_change, "the tag 'billing.retry_failed' has more than one change"),
    (problems_wrong_types, "problems[0]"),
    (problem_not_object, "problems[0]: 'everything is fine' is not a mapping"),
    (problem_huge_line, "problems[0].line: 1000000000000000000000000000000 is greater"),
    (ignore_widened, "it ignores start_at, which the current configuration does not"),
    (ignore_unknown, "ignore_fields[0]: 'tag' is not one of"),
    (fields_lie, "the field changes of 'billing.retry_failed' are not the difference"),
    (update_without_change, "changes[1]: update 'billing.retry_failed' changes no field"),
    (create_over_live, "changes[1]: create 'billing.retry_failed' has desired and live job(s)"),
    (summary_lies, "summary: the counts are not those of the changes"),
    (changes_not_a_list, "changes: a mapping is not a list"),
    (unknown_top_level, "('apply_anyway' was unexpected)"),
    (stray_rename, "the rename of 'fresh_job' to 'nightly_sales_report' does not pair"),
    (not_utf8, "is not UTF-8"),
    (oversize, "bytes, more than the 67,108,864 (64 MiB) a plan file may"),
]


def write_tampered(tamper: Tamper, data: Doc, path: Path) -> None:
    hostile = tamper(copy.deepcopy(data))
    if isinstance(hostile, dict):
        hostile = json.dumps(hostile)
    raw = hostile.encode() if isinstance(hostile, str) else hostile
    path.write_bytes(raw)
    if tamper is oversize:
        with path.open("r+b") as handle:  # sparse: past the bound, without using the disk
            handle.truncate(planfile.MAX_PLAN_BYTES + 1)


def assert_damaged(code: int, out: str, err: str) -> None:
    assert code == 1, err
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: the plan file is damaged: plan.json: "), err
    assert "\x1b" not in err and "\r" not in err


@pytest.mark.parametrize(("tamper", "why"), CASES, ids=[t.__name__ for t, _ in CASES])
@pytest.mark.slow
def test_a_tampered_plan_is_refused_and_nothing_is_written(
    work: Path, tamper: Tamper, why: str
) -> None:
    data = make_plan()
    before = live_jobs()
    write_tampered(tamper, data, work / "plan.json")
    code, out, err = run("apply", "--plan", "plan.json", "--target", STORE, "--auto-approve")
    assert_damaged(code, out, err)
    assert why in err
    assert live_jobs() == before
    code, out, err = run("show", "plan.json", "--format", "json")
    if tamper is not ignore_widened:  # show has no configuration to compare it with
        assert_damaged(code, out, err)
        assert why in err


def test_the_genuine_plan_applies(work: Path) -> None:
    """The fixture's plan is sound: every refusal above is the tampering's."""
    make_plan()
    code, out, err = run("apply", "--plan", "plan.json", "--target", STORE)
    assert code == 0, err
    assert "Apply: 1 created, 1 updated, 0 failed." in out
    jobs = live_jobs()
    assert jobs[UPDATED]["intervals"] == 1_800_000 and CREATED in jobs


def test_a_plan_may_ignore_less_than_the_configuration_never_more(work: Path) -> None:
    Path(".reconciler.yaml").write_text("ignore_fields: [executions, start_at]\n")
    data = make_plan()
    assert data["ignore_fields"] == ["executions", "start_at"]
    # Narrowed: the plan compares start_at too. Still what build_plan makes of its jobs.
    data["ignore_fields"] = ["executions"]
    Path("plan.json").write_text(json.dumps(data))
    Path(".reconciler.yaml").write_text("ignore_fields: [executions]\n")
    # Widened against the configuration now in force: refused.
    Path("plan.json").write_text(json.dumps({**data, "ignore_fields": ["executions", "start_at"]}))
    code, out, err = run("apply", "--plan", "plan.json", "--target", STORE, "--auto-approve")
    assert_damaged(code, out, err)
    assert "ignores start_at, which the current configuration does not" in err
    # --ignore-field counts as configuration, as for plan.
    Path("plan.json").write_text(json.dumps(data))
    code, out, err = run(
        "apply", "--plan", "plan.json", "--target", STORE, "--ignore-field", "intervals"
    )
    assert code == 0, err
    assert "Apply: 1 created, 1 updated, 0 failed." in out


def test_a_narrowed_plan_still_goes_stale_on_the_field_it_compares(work: Path) -> None:
    Path(".reconciler.yaml").write_text("ignore_fields: [start_at]\n")
    data = make_plan()
    data["ignore_fields"] = []
    Path("plan.json").write_text(json.dumps(data))
    target = LocalTarget("live.db")
    target.update_job(UPDATED, {"start_at": 1_900_000_000_000})
    target.close()
    before = live_jobs()
    code, _, err = run("apply", "--plan", "plan.json", "--target", STORE)
    assert code == 1 and "the saved plan is stale: 1 job(s) changed live" in err
    assert live_jobs() == before


def test_a_plan_without_a_target_is_not_applied_anywhere(work: Path) -> None:
    data = make_plan()
    before = live_jobs()
    Path("plan.json").write_text(json.dumps({**data, "target": ""}))
    code, _, err = run("apply", "--plan", "plan.json", "--target", STORE)
    assert code == 1 and "the plan was made for no target" in err
    assert live_jobs() == before


def test_an_oversize_plan_is_refused_before_it_is_read(tmp_path: Path) -> None:
    """300 MB of hostile plan costs nothing: the size of the open file is checked first."""
    path = tmp_path / "big.json"
    path.write_text('{"format": "reconciler-plan", "changes": [')
    with path.open("r+b") as handle:
        handle.truncate(300 * 1024 * 1024)
    tracemalloc.start()
    try:
        with pytest.raises(
            planfile.DamagedPlan, match=r"314,572,800 bytes, more than the 67,108,864 \(64 MiB\)"
        ):
            planfile.read(str(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024


def test_a_plan_is_written_whole_and_reads_back(work: Path) -> None:
    data = make_plan()
    assert not [p for p in work.iterdir() if p.name.startswith(".plan-")]
    saved = planfile.read("plan.json")
    assert saved.plan.target == data["target"] and saved.plan.has_changes
    assert [p.message for p in saved.problems] == [p["message"] for p in data["problems"]]
    assert any("is under a minute" in p.message for p in saved.problems)


def test_the_schema_names_the_model_fields() -> None:
    defs = plan_schema()["$defs"]
    assert defs["field_change"]["properties"]["field"]["enum"] == list(MUTABLE_FIELDS)
    assert plan_schema()["properties"]["ignore_fields"]["items"]["enum"] == list(MUTABLE_FIELDS)


HTTP_CASES: list[Tamper] = [rename_tag, retag_everything, infinity, negative, huge, ignore_widened]


@pytest.mark.slow
def test_a_tampered_plan_writes_nothing_to_a_real_server(
    work: Path, ductape_server: RunningServer
) -> None:
    server = ductape_server
    env = server.client_env()
    fresh = Path("jobs/fresh.yaml")
    fresh.unlink()
    code, _, err = run("apply", "jobs", "--auto-approve", env=env)
    assert code == 0, err
    fresh.write_text(NEW_JOB)
    billing = Path("jobs/billing/jobs.yaml")
    billing.write_text(billing.read_text().replace("intervals: 30m", "intervals: 2h"))
    data = make_plan(server.base_url, env)

    def served() -> list[Any]:
        return server.store.job_documents(server.product_id)

    before = served()
    assert len(before) == 7  # the seeded job and the six of the examples
    for tamper in HTTP_CASES:
        write_tampered(tamper, data, work / "plan.json")
        code, out, err = run("apply", "--plan", "plan.json", "--auto-approve", env=env)
        assert_damaged(code, out, err)
        assert served() == before, tamper.__name__
    # The genuine plan, to the same server: the refusals above were the tampering's.
    Path("plan.json").write_text(json.dumps(data))
    code, out, err = run("apply", "--plan", "plan.json", env=env)
    assert code == 0, err
    assert "Apply: 1 created, 1 updated, 0 failed." in out


def test_depth_is_bounded_before_parsing() -> None:
    """A valid plan nests 5 deep; 16 is the limit, counted without recursing."""
    planfile.parse(b"[" * 16 + b"]" * 16)
    with pytest.raises(planfile.DamagedPlan, match="nests deeper than 16 levels"):
        planfile.parse(b"[" * 17 + b"]" * 17)
    # Brackets inside strings, escaped quotes included, are text.
    assert planfile.parse(b'["[[[[[[[[[[[[[[[[[[\\"[[[[[[[["]') == ['[[[[[[[[[[[[[[[[[["[[[[[[[[']
    with pytest.raises(planfile.DamagedPlan, match=r"line 1 column 2: Expecting value"):
        planfile.parse(b"[}")


# --- the format's version ------------------------------------------------------------------

SHA = "0123456789abcdef0123456789abcdef01234567"


def test_a_plan_that_names_its_commit_says_format_3_and_show_reads_it_back(work: Path) -> None:
    """A reader of format 2 refuses commit and paths as damage, so a file holding them says 3;
    show reads them back into its header (markdown) and its JSON document."""
    data = make_plan(env={"GITHUB_SHA": SHA})
    assert data["format_version"] == 3
    assert data["commit"] == SHA and data["paths"] == ["jobs"]
    assert plan_schema()["properties"]["format_version"]["enum"] == [2, 3]
    code, out, err = run("show", "plan.json", "--format", "markdown")
    assert code == 0, err
    assert f"commit `{SHA[:12]}` · paths `jobs`" in out
    code, out, err = run("show", "plan.json", "--format", "json")
    assert code == 0, err
    shown = json.loads(out)
    assert (shown["format_version"], shown["commit"], shown["paths"]) == (3, SHA, ["jobs"])


def test_a_format_2_plan_still_reads_and_applies(work: Path) -> None:
    data = make_plan(env={"GITHUB_SHA": SHA})
    old = {k: v for k, v in data.items() if k not in ("commit", "paths")}
    Path("plan.json").write_text(json.dumps({**old, "format_version": 2}))
    code, out, err = run("show", "plan.json")
    assert code == 0, err
    code, out, err = run("apply", "--plan", "plan.json", "--target", STORE)
    assert code == 0, err
    assert "Apply: 1 created, 1 updated, 0 failed." in out


@pytest.mark.parametrize(
    ("version", "why"),
    [
        (
            4,
            "error: the plan file plan.json was written by a newer reconciler (format_version 4);"
            " this one reads 2 and 3: upgrade reconciler, or run plan again with this one",
        ),
        (
            1,
            "error: the plan file plan.json was written by an older reconciler (format_version 1);"
            " this one reads 2 and 3: run plan again",
        ),
        ("3", "error: the plan file is damaged: plan.json: format_version: '3' is not a version"),
        (True, "error: the plan file is damaged: plan.json: format_version: true is not a version"),
    ],
)
def test_a_plan_of_another_version_is_refused_in_one_line(
    work: Path, version: object, why: str
) -> None:
    data = make_plan()
    before = live_jobs()
    Path("plan.json").write_text(json.dumps({**data, "format_version": version}))
    for args in (["show", "plan.json"], ["apply", "--plan", "plan.json", "--target", STORE]):
        code, out, err = run(*args)
        assert (code, out, err) == (1, "", why + "\n")
    assert live_jobs() == before


def test_a_plan_file_is_read_by_the_one_bounded_reader(tmp_path: Path) -> None:
    """jsonfile's reader, in the plan file's words: a FIFO refused at once, never waited on."""
    fifo = tmp_path / "plan.json"
    os.mkfifo(fifo)  # nobody ever writes to it
    with pytest.raises(UsageError, match=r"^cannot read the plan file .*plan\.json: not a regular"):
        planfile.read(str(fifo))
