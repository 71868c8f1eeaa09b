"""Review and drift as a pipeline sees them: exit codes, orphans, renames, formats, bounds.

Everything runs through the real command line on real files and a real SQLite store.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from reconciler.errors import EXIT_CODES
from testing.cli import invoke as run

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "examples" / "jobs"
SCHEMAS = ROOT / "schemas"


@pytest.fixture
def work(examples_repo: Path) -> Path:
    return examples_repo


def check_schema(document: dict[str, Any]) -> None:
    name = {
        "reconciler-validate": "validate-report.schema.json",
        "reconciler-plan": "plan.schema.json",
        "reconciler-drift": "drift-report.schema.json",
        "reconciler-apply": "apply-report.schema.json",
        "reconciler-products": "products-report.schema.json",
    }[document["format"]]
    schema = json.loads((SCHEMAS / name).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(document)


# --- exit codes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("plan", "nosuchdir", "--detailed-exitcode"),
        ("plan", "--bogus"),
        ("plan", "jobs", "--format", "yaml"),
        ("drift", "jobs", "--timeout", "0"),
        ("apply", "jobs", "--parallelism", "0"),
        ("nosuchcommand",),
    ],
)
def test_usage_errors_exit_1_never_2(work: Path, args: tuple[str, ...]) -> None:
    code, _, err = run(*args)
    assert code == 1, err
    assert "Traceback" not in err


def test_no_arguments_prints_help_and_exits_0() -> None:
    code, out, _ = run()
    assert code == 0 and "Usage: reconciler" in out and "Exit codes:" in out


def test_exit_code_table_in_help_and_readme_come_from_errors() -> None:
    _, out, _ = run("--help")
    readme = (ROOT / "README.md").read_text()
    for code, meaning in EXIT_CODES:
        assert f"  {code:<4} {meaning}" in out
        assert f"| {code} | {meaning} |" in readme
    table = re.findall(r"^\| (\d+) \| ", readme.split("### Exit codes", 1)[1], re.M)
    assert [int(c) for c in table] == [code for code, _ in EXIT_CODES]


def test_a_bug_exits_3_with_a_crash_log(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A bug cannot be made on purpose in the real code: this one is injected.
    import reconciler.commands.common

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("boom: secret-looking detail stays in the log")

    monkeypatch.setattr(reconciler.commands.common, "load_desired", broken)
    code, _, err = run("plan", "jobs")
    assert code == 3
    assert err.startswith("internal error: RuntimeError: this is a bug in reconciler;")
    assert "boom" not in err and "Traceback" not in err
    named = re.search(r"the traceback is in (\S+reconciler-crash-\S+\.log) ", err)
    assert named, err
    log = Path(named.group(1))
    assert "Traceback" in log.read_text() and "boom" in log.read_text()
    # A file of its own, readable by its owner only; the next crash gets another.
    assert log.stat().st_mode & 0o777 == 0o600
    code, _, second = run("plan", "jobs")
    assert code == 3 and log.name not in second


def test_a_planted_link_at_the_old_crash_log_path_is_never_followed(
    work: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import reconciler.commands.common

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(reconciler.commands.common, "load_desired", broken)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (tmp_path / "reconciler-crash.log").symlink_to(victim)
    code, _, err = run("plan", "jobs")
    assert code == 3 and str(tmp_path) in err
    assert victim.read_text() == "precious\n"


def test_paths_come_from_the_config_or_must_be_named(work: Path) -> None:
    code, _, err = run("plan")
    assert code == 1
    assert "name the manifests' directory" in err
    (work / ".reconciler.yaml").write_text("paths: [jobs]\ntarget: sqlite:///state/live.db\n")
    (work / "jobs" / "billing").joinpath("x").mkdir()
    code, out, _ = run("plan")
    assert code == 0 and "Plan: 6 to create" in out
    # From a subdirectory: the file is found upward, its paths read from its own directory.
    sub = work / "jobs" / "billing" / "x"
    import os

    os.chdir(sub)
    code, out, _ = run("apply", "--auto-approve")
    assert code == 0, out
    assert (work / "state" / "live.db").exists(), "sqlite:/// relative to the config file"
    assert not (sub / "state").exists()


def test_config_refuses_secrets_and_unknown_fields(work: Path) -> None:
    (work / ".reconciler.yaml").write_text("paths: [jobs]\nprivate_key: abc\n")
    code, _, err = run("plan")
    assert code == 1 and "credentials belong in DUCTAPE_* environment variables" in err
    assert "abc" not in err
    (work / ".reconciler.yaml").write_text("paths: [jobs]\nignore_fields: [colour]\n")
    code, _, err = run("plan")
    assert code == 1 and "ignore_fields: 'colour' is not a job field" in err


# --- orphans, renames, drift ------------------------------------------------------------


def test_a_renamed_tag_shows_create_orphan_and_warning(work: Path) -> None:
    run("apply", "jobs", "--auto-approve")
    manifest = work / "jobs" / "cache-warm.yaml"
    manifest.write_text(manifest.read_text().replace("warm_catalogue_cache", "catalogue_warmer"))
    code, out, err = run("plan", "jobs", "--detailed-exitcode")
    assert code == 2
    assert "+ create catalogue_warmer" in out
    assert "likely a rename of warm_catalogue_cache: the old job keeps running" in out
    assert "- orphan warm_catalogue_cache" in out and "likely renamed to catalogue_warmer" in out
    assert "Plan: 1 to create, 0 to update, 5 unchanged, 1 orphan." in out
    assert (
        "jobs/cache-warm.yaml:3:6: catalogue_warmer: tag: warning: likely a rename of live job "
        "'warm_catalogue_cache': the old job keeps running" in err
    )
    code, out, _ = run("drift", "jobs", "--format", "json")
    data = json.loads(out)
    check_schema(data)
    assert code == 2
    assert {(d["kind"], d["tag"]) for d in data["drift"]} == {
        ("missing", "catalogue_warmer"),
        ("orphan", "warm_catalogue_cache"),
    }


def test_drift_names_the_field_that_moved_live(work: Path) -> None:
    run("apply", "jobs", "--auto-approve")
    code, out, _ = run("drift", "jobs")
    assert (code, out.strip().splitlines()[-1]) == (
        0,
        "No drift: live jobs match the manifests.",
    )
    db = sqlite3.connect(work / ".reconciler" / "local.db")
    row = db.execute("SELECT doc FROM jobs WHERE tag = 'weekly_digest'").fetchone()
    doc = json.loads(row[0])
    doc["intervals"] = 86_400_000
    db.execute("UPDATE jobs SET doc = ? WHERE tag = 'weekly_digest'", (json.dumps(doc),))
    db.commit()
    db.close()
    code, out, _ = run("drift", "jobs")
    assert code == 2
    assert "changed weekly_digest" in out
    assert "intervals: live 86400000 (1d), git 604800000 (1w)" in out
    assert "Drift: 1 changed live, 0 missing live, 0 orphan(s)." in out
    for fmt in ("json", "markdown", "github"):
        code, out, _ = run("drift", "jobs", "--format", fmt)
        assert code == 2 and "weekly_digest" in out
    # An operator owns the interval: ignored, it never flaps.
    code, out, _ = run("drift", "jobs", "--ignore-field", "intervals")
    assert code == 0, out
    (work / ".reconciler.yaml").write_text("ignore_fields: [intervals]\n")
    code, _, _ = run("drift", "jobs")
    assert code == 0
    code, out, _ = run("apply", "jobs", "--auto-approve")
    assert "No changes." in out  # apply never writes an ignored field either


def test_selection_leaves_jobs_out_and_says_so(work: Path) -> None:
    code, out, _ = run("plan", "jobs", "--only", "billing.*", "--exclude", "*backfill*")
    assert "Plan: 1 to create, 0 to update, 0 unchanged. 5 left out by --only/--exclude." in out
    code, out, _ = run("apply", "jobs", "--only", "billing.*", "--auto-approve")
    assert code == 0 and "Apply: 2 created" in out
    # Jobs left out are not drift either, whatever their state.
    code, _, _ = run("drift", "jobs", "--only", "billing.*")
    assert code == 0
    code, _, _ = run("drift", "jobs")
    assert code == 2


def test_options_work_after_the_subcommand(work: Path) -> None:
    _, out, _ = run("plan", "jobs", "--color")
    assert "\x1b[32m+\x1b[0m" in out
    _, out, _ = run("--color", "plan", "jobs", "--no-color")
    assert "\x1b[" not in out


# --- formats ----------------------------------------------------------------------------


def test_json_of_every_command_matches_its_schema(work: Path) -> None:
    code, out, _ = run("validate", "jobs", "--format", "json")
    check_schema(json.loads(out))
    code, out, _ = run("plan", "jobs", "--format", "json", "--out", "plan.json")
    check_schema(json.loads(out))
    code, out, _ = run("show", "plan.json", "--format", "json")
    check_schema(json.loads(out))
    code, out, _ = run("apply", "jobs", "--auto-approve", "--format", "json")
    data = json.loads(out)
    check_schema(data)
    assert code == 0 and data["counts"]["ok"] == 6
    assert {r["status"] for r in data["results"]} == {"ok"}
    code, out, _ = run("drift", "jobs", "--format", "json")
    check_schema(json.loads(out))
    # With invalid manifests every format still prints a document saying why.
    (work / "jobs" / "bad.yaml").write_text("name: x\ntag: bad\n")
    for command in ("validate", "plan", "drift", "apply"):
        code, out, _ = (
            run(command, "jobs", "--format", "json", "--auto-approve")[0:3]
            if (command == "apply")
            else run(command, "jobs", "--format", "json")
        )
        data = json.loads(out)
        check_schema(data)
        assert code == 1 and any(p["severity"] == "error" for p in data["problems"])
        code, out, _ = run(command, "jobs", "--format", "markdown")
        assert code == 1 and "Invalid: 4 problem(s) in 1 of 6 file(s)" in out


def test_saved_plan_is_shown_and_is_the_approval(work: Path) -> None:
    code, _, _ = run("plan", "jobs", "--out", "plan.json")
    assert code == 0
    code, out, _ = run("show", "plan.json", "--format", "markdown", "--detailed-exitcode")
    assert code == 2 and "| `nightly_sales_report` | create | all (new job) |" in out
    # No terminal, no --auto-approve: the reviewed plan file is the approval.
    code, out, err = run("apply", "--plan", "plan.json")
    assert code == 0, err
    assert "Apply: 6 created, 0 updated, 0 failed." in out


@pytest.mark.slow
def test_markdown_stays_under_the_comment_limit(work: Path) -> None:
    big = work / "big"
    big.mkdir()
    with (big / "jobs.yaml").open("w") as handle:
        for i in range(5000):
            handle.write(
                f"---\nname: Generated job number {i} with a longish name\ntag: job_{i:05d}\n"
                "event_type: function\nevent_tag: f\nintervals: 1h\n"
                "start_at: 2030-01-01T00:00:00Z\n"
            )
    code, out, _ = run("plan", "big", "--format", "markdown")
    assert code == 0
    assert len(out) < 60_000
    assert "**Plan: 5000 to create, 0 to update, 0 unchanged.**" in out
    # Counted in jobs, as a reader counts them: not table rows and detail blocks together.
    left = re.search(r"\*\*([\d,]+) more job\(s\) not shown \(of 5,000\)", out)
    assert left is not None and 4000 < int(left.group(1).replace(",", "")) < 5000
    assert "see the pipeline log" in out


def test_untrusted_strings_are_escaped_in_every_format(work: Path) -> None:
    run("apply", "jobs", "--auto-approve")
    hostile = "evil`` | [x](http://e)\x1b]8;;http://e\x07\n::error::forged"
    db = sqlite3.connect(work / ".reconciler" / "local.db")
    row = db.execute("SELECT doc, product_id FROM jobs WHERE tag = 'weekly_digest'").fetchone()
    doc = json.loads(row[0])
    doc["tag"], doc["_id"] = hostile, "f" * 24
    db.execute(
        "INSERT INTO jobs (id, product_id, tag, doc) VALUES (?, ?, ?, ?)",
        ("f" * 24, row[1], hostile, json.dumps(doc)),
    )
    db.commit()
    db.close()
    _, out, err = run("plan", "jobs", "-v")
    assert "\x1b]" not in out + err and "\x07" not in out + err
    assert "evil`` | [x](http://e)\\x1b]8;;http://e\\x07\\x0a::error::forged" in out
    _, out, _ = run("plan", "jobs", "--format", "github")
    assert not any(line.startswith("::error::forged") for line in out.splitlines())
    _, out, _ = run("plan", "jobs", "--format", "markdown")
    assert "\x1b" not in out
    assert "| ```evil`` \\| [x](http://e)\\x1b]8;;http://e\\x07\\x0a::error::forged``` |" in out
    _, out, _ = run("plan", "jobs", "--format", "json")
    assert hostile in [c["tag"] for c in json.loads(out)["changes"]]


# --- many products ----------------------------------------------------------------------


def two_products(work: Path) -> None:
    """The examples as two products of one repository: shop (jobs/) and billing (billing/)."""
    (work / "jobs" / "billing").rename(work / "billing")
    (work / ".reconciler.yaml").write_text(
        "target: sqlite:///live.db\n"
        "products:\n"
        "  shop: {paths: [jobs], product: shop}\n"
        "  billing: {paths: [billing], product: billing}\n"
    )


def test_two_products_in_one_repository(work: Path) -> None:
    two_products(work)
    code, out, _ = run("plan", "--detailed-exitcode")
    assert code == 2
    assert out.index("== shop ==") < out.index("== billing ==")
    assert "(product shop)" in out and "(product billing)" in out
    code, out, _ = run("apply", "--auto-approve")
    assert code == 0, out
    code, _, _ = run("drift")
    assert code == 0
    manifest = work / "billing" / "jobs.yaml"
    manifest.write_text(manifest.read_text().replace("intervals: 1h30m", "intervals: 30m"))
    code, out, _ = run("drift", "--format", "json")
    data = json.loads(out)
    check_schema(data)
    assert code == 2
    in_sync = {p["name"]: p["report"]["in_sync"] for p in data["products"]}
    assert in_sync == {"shop": True, "billing": False}
    code, _, _ = run("drift", "--only-product", "shop")
    assert code == 0
    code, _, err = run("drift", "--only-product", "shoop")
    assert code == 1 and "did you mean shop?" in err


def test_several_products_open_with_the_sum_and_a_line_each(work: Path) -> None:
    two_products(work)
    assert run("apply", "--auto-approve")[0] == 0
    manifest = work / "billing" / "jobs.yaml"
    manifest.write_text(manifest.read_text().replace("intervals: 1h30m", "intervals: 30m"))
    (work / "billing" / "more.yaml").write_text(
        manifest.read_text().split("---")[0].replace("billing.retry_failed", "billing.more")
    )
    code, out, _ = run("plan", "--format", "markdown")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[1] == "### Merging will create 1 and update 1 jobs across 2 products"
    assert lines[2] == "reconciler plan"
    assert lines[4] == (
        "- `shop`: No changes: merging changes nothing live. Plan: 0 to create, 0 to update, "
        "4 unchanged."
    )
    assert lines[5] == (
        "- `billing`: Merging will create 1 and update 1 jobs. Plan: 1 to create, 1 to update, "
        "1 unchanged."
    )
    # Then each product under its own heading, with its own header.
    assert out.index("#### `shop`: No changes") < out.index("#### `billing`: Merging will")
    billing = out.split("#### `billing`: Merging will create 1 and update 1 jobs\n", 1)[1]
    assert billing.startswith(
        "reconciler plan · paths `billing` · target `sqlite:///live.db (product billing)`"
    )


@pytest.mark.slow
def test_two_products_against_the_local_server(
    ductape_server_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed = (ROOT / "examples" / "seed.yaml").read_text()
    seed += (
        "  - name: billing\n"
        "    status: private\n"
        "    catalogue:\n"
        "      functions: [retry_failed_charges, backfill_invoice_numbers]\n"
    )
    (tmp_path / "seed.yaml").write_text(seed)
    server = ductape_server_factory(seed_path=tmp_path / "seed.yaml")
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLES, repo / "shop")
    (repo / "shop" / "billing").rename(repo / "billing")
    (repo / ".reconciler.yaml").write_text(
        "products:\n"
        "  shop: {paths: [shop], product: shop, owns: ['*_report', 'weekly_*']}\n"
        "  billing: {paths: [billing], product: billing}\n"
    )
    monkeypatch.chdir(repo)
    for name, value in {
        "RECONCILER_TARGET": server.base_url,
        "DUCTAPE_USER_ID": server.user_id,
        "DUCTAPE_WORKSPACE_ID": server.workspace_id,
        "DUCTAPE_PRIVATE_KEY": server.private_key,
    }.items():
        monkeypatch.setenv(name, value)
    # A pipeline-wide DUCTAPE_PRODUCT must not send every configured product to one product.
    monkeypatch.setenv("DUCTAPE_PRODUCT", "shop")
    code, out, err = run("plan", "--detailed-exitcode")
    assert code == 2, err
    assert out.index("== shop ==") < out.index("== billing ==")
    assert "Plan: 4 to create, 0 to update, 0 unchanged, 1 foreign." in out
    assert "Plan: 2 to create, 0 to update, 0 unchanged." in out
    code, out, err = run("apply", "--auto-approve")
    assert code == 0, out + err
    code, out, _ = run("drift")
    assert code == 0, out
    manifest = repo / "billing" / "jobs.yaml"
    manifest.write_text(manifest.read_text().replace("intervals: 1h30m", "intervals: 30m"))
    code, out, _ = run("drift", "--format", "markdown")
    assert code == 2
    assert out.splitlines()[1] == "### Live differs from Git across 2 products: 1 job changed live"
    assert "#### `shop`: No drift: live matches Git" in out
    billing = out.split("#### `billing`: Live differs from Git: 1 job changed live", 1)[1]
    assert "| `billing.retry_failed` | changed | intervals |" in billing
    code, _, err = run("drift", "--product", "shop")
    assert code == 1 and "pick one with --only-product, not --product" in err


def test_an_apply_where_one_product_is_invalid_leads_with_its_errors_not_failed_writes(
    work: Path,
) -> None:
    two_products(work)
    (work / "billing" / "bad.yaml").write_text("name: x\ntag: bad\n")
    code, out, _ = run("apply", "--auto-approve", "--format", "markdown")
    assert code == 1
    lead = out.splitlines()[1]
    assert lead.startswith("### Apply failed in 1 of 2 products: ") and "error" in lead, lead
    assert "writes failed" not in lead and lead.endswith("; created 4 jobs"), lead
