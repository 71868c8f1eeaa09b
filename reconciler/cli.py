"""The command line: options in, one core call, an exit code out.

This is the only place errors become messages. Heavy modules (jsonschema, deepdiff, httpx)
are imported inside the commands, so ``reconciler --help`` starts fast.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

import click

from . import __version__
from .errors import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    ApplyRefused,
    ManifestError,
    ReconcilerError,
)

if TYPE_CHECKING:
    from .apply import Report
    from .model import Problem
    from .plan import Plan
    from .render.text import Painter
    from .targets.base import Target

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CODES = """\b
Exit codes:
  0    success (plan --detailed-exitcode: no changes)
  1    error: invalid manifests, target or credential problem,
       a failed job, a stale or unapproved apply
  2    plan --detailed-exitcode: changes to apply
  130  interrupted
"""


def _err(line: str) -> None:
    click.echo(line, err=True)


def handle_errors(func: F) -> F:
    """Turn expected errors into one line on stderr and their exit code; bugs keep tracebacks."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            code = func(*args, **kwargs)
        except ManifestError as exc:
            for problem in exc.problems:
                _err(str(problem))
            _err(f"error: {exc}")
            sys.exit(exc.exit_code)
        except ReconcilerError as exc:
            _err(f"error: {exc}")
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            _err("interrupted")
            sys.exit(EXIT_INTERRUPTED)
        sys.exit(code or EXIT_OK)

    return wrapper  # type: ignore[return-value]


def _painter(ctx: click.Context) -> Painter:
    from .render.text import Painter

    choice = ctx.find_root().params.get("color")
    if choice is None:
        choice = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    return Painter(bool(choice))


def _echo(text: str, paint: Painter) -> None:
    # click strips ANSI codes when stdout is not a terminal; --color means keep them.
    click.echo(text, color=True if paint.enabled else None)


def _print_problems(problems: Sequence[Problem], fmt: str) -> None:
    for problem in problems:
        if fmt == "github":
            kind = "error" if problem.is_error else "warning"
            loc = problem.location
            title = _gh(f"{problem.tag or '-'}: {problem.field or '-'}", prop=True)
            click.echo(
                f"::{kind} file={_gh(loc.path, prop=True)},line={loc.line},col={loc.col},"
                f"title={title}::{_gh(problem.message)}"
            )
        else:
            _err(str(problem))


def _gh(text: str, prop: bool = False) -> str:
    """Escape for a GitHub workflow command: %, CR, LF always; ':' and ',' in properties."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text


target_option = click.option(
    "--target",
    envvar="RECONCILER_TARGET",
    metavar="URL",
    help="Where live jobs are: sqlite:///PATH or a Ductape base URL such as "
    "https://api.ductape.app (default: .reconciler/local.db, or target: in .reconciler.yaml).",
)
product_option = click.option(
    "--product",
    envvar="DUCTAPE_PRODUCT",
    help="The product whose jobs to manage (default: 'default' in the embedded store).",
)
references_option = click.option(
    "--references",
    type=click.Choice(["warn", "error", "off"]),
    default="warn",
    show_default=True,
    help="Check each event_tag against the product's catalogue, where the target has one.",
)
paths_argument = click.argument(
    "paths", nargs=-1, type=click.Path(exists=True, dir_okay=True, file_okay=True)
)


@click.group(epilog=EXIT_CODES, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reconciler")
@click.option(
    "--color/--no-color",
    default=None,
    help="Colour the output (default: on a terminal, unless NO_COLOR is set).",
)
def main(color: bool | None) -> None:
    """Keep Ductape scheduled jobs in Git: validate, plan, apply.

    Jobs that exist only live are reported, never removed: Ductape has no delete.
    """


@main.command(epilog=EXIT_CODES)
@paths_argument
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    help="text: one line a problem on stderr; json: a report on stdout; github: annotations.",
)
@handle_errors
def validate(paths: tuple[str, ...], fmt: str) -> int:
    """Check every manifest under PATHS against the job schema.

    Reports every problem as path:line:col: tag: field: message.
    Warnings alone do not fail.
    """
    from .desired import load_desired

    desired = load_desired(paths or (".",))
    if fmt == "json":
        report = {
            "valid": not desired.errors,
            "files": desired.files,
            "jobs": len(desired.jobs),
            "problems": [
                {
                    "path": p.location.path,
                    "line": p.location.line,
                    "col": p.location.col,
                    "tag": p.tag,
                    "field": p.field,
                    "severity": p.severity,
                    "message": p.message,
                }
                for p in desired.problems
            ],
        }
        click.echo(json.dumps(report, indent=2))
    else:
        _print_problems(desired.problems, fmt)
    if desired.errors:
        if fmt == "text":
            _err(f"error: {len(desired.errors)} problem(s) in {desired.files} file(s)")
        return EXIT_ERROR
    if fmt == "text":
        click.echo(f"ok: {len(desired.jobs)} job(s) in {desired.files} file(s) are valid")
    return EXIT_OK


@main.command(epilog=EXIT_CODES)
@paths_argument
@target_option
@product_option
@references_option
@click.option("-v", "--verbose", is_flag=True, help="List unchanged jobs too.")
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when there are no changes, 2 when there are, 1 on error.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    help="text for people, json for pipelines (the document --out saves), "
    "markdown for a pull-request comment.",
)
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, writable=True),
    help="Save the plan to FILE; 'apply --plan FILE' applies exactly it, if still fresh.",
)
@click.pass_context
@handle_errors
def plan(
    ctx: click.Context,
    paths: tuple[str, ...],
    target: str | None,
    product: str | None,
    references: str,
    verbose: bool,
    detailed_exitcode: bool,
    fmt: str,
    out: str | None,
) -> int:
    """Show what apply would change for the manifests under PATHS."""
    from .core import make_plan
    from .plan import plan_to_dict
    from .render.text import render_plan

    live = _open_target(paths, target, product)
    try:
        planned = make_plan(paths or (".",), live, references)
    finally:
        live.close()
    _print_problems(planned.desired.warnings + planned.references, "text")
    data = plan_to_dict(planned.plan) if fmt == "json" or out else None
    if data is not None and fmt == "json":
        # Compact: pipelines read it, and indenting forces json's slow pure-Python encoder.
        click.echo(json.dumps(data))
    elif fmt == "markdown":
        from .render.markdown import render_markdown

        click.echo(render_markdown(planned.plan), nl=False)
    else:
        paint = _painter(ctx)
        _echo(render_plan(planned.plan, paint, verbose), paint)
    if data is not None and out:
        _save(out, data)
        _err(f"Saved the plan to {out}; apply it with: reconciler apply --plan {out}")
    if detailed_exitcode and planned.plan.has_changes:
        return EXIT_CHANGES
    return EXIT_OK


def _open_target(paths: Sequence[str], target: str | None, product: str | None) -> Target:
    """The target from options and environment, else from .reconciler.yaml, else the default."""
    from .manifests import load_config
    from .targets import open_target

    config = load_config(paths or (".",)) if not (target and product) else {}
    return open_target(target or config.get("target"), product or config.get("product"))


def _save(path: str, data: dict[str, Any]) -> None:
    from .errors import UsageError

    try:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
            handle.write("\n")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None


@main.command(epilog=EXIT_CODES)
@paths_argument
@target_option
@product_option
@references_option
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Apply a plan saved by 'plan --out' instead of planning again; refused if stale.",
)
@click.option("--auto-approve", is_flag=True, help="Apply without asking (for pipelines).")
@click.option(
    "--parallelism",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="How many jobs to write at once.",
)
@click.option(
    "--max-changes",
    type=click.IntRange(0),
    default=None,
    help="Refuse, changing nothing, when the plan would create and update more jobs "
    "than this (a guard against a bad merge).",
)
@click.pass_context
@handle_errors
def apply(
    ctx: click.Context,
    paths: tuple[str, ...],
    target: str | None,
    product: str | None,
    references: str,
    plan_file: str | None,
    auto_approve: bool,
    parallelism: int,
    max_changes: int | None,
) -> int:
    """Create and update live jobs to match the manifests under PATHS."""
    from .core import make_plan
    from .errors import UsageError
    from .plan import check_fresh, plan_from_dict
    from .render.text import render_plan

    paint = _painter(ctx)
    live = _open_target(paths, target, product)
    try:
        if plan_file:
            if paths:
                raise UsageError("give either PATHS or --plan, not both")
            the_plan = plan_from_dict(_load_json(plan_file))
            check_fresh(the_plan, live.fetch_jobs(), live.describe())
        else:
            planned = make_plan(paths or (".",), live, references)
            _print_problems(planned.desired.warnings + planned.references, "text")
            the_plan = planned.plan
        _echo(render_plan(the_plan, paint), paint)
        if not the_plan.has_changes:
            return EXIT_OK
        if max_changes is not None and the_plan.writes > max_changes:
            raise ApplyRefused(
                f"the plan writes {the_plan.writes} jobs, more than --max-changes {max_changes}; "
                "nothing was changed"
            )
        if not auto_approve:
            _confirm()
        report = _run_apply(the_plan, live, parallelism, paint)
    finally:
        live.close()
    _echo(paint(report.summary(), "bold"), paint)
    return EXIT_ERROR if report.failed else EXIT_OK


# Below this many writes a line per job reads better than a bar.
PROGRESS_BAR_FROM = 20


def _run_apply(plan: Plan, target: Target, parallelism: int, paint: Painter) -> Report:
    """Apply with a line per job, or a progress bar (and failures after) on a terminal."""
    from .apply import apply_plan

    if not (sys.stdout.isatty() and plan.writes >= PROGRESS_BAR_FROM):
        return apply_plan(
            plan, target, parallelism, on_result=lambda r: _echo(_result_line(r, paint), paint)
        )
    with click.progressbar(length=plan.writes, label="Applying", show_pos=True) as bar:
        report = apply_plan(plan, target, parallelism, on_result=lambda _: bar.update(1))
    for result in report.failed:
        _echo(_result_line(result, paint), paint)
    return report


def _confirm() -> None:
    if not sys.stdin.isatty():
        raise ApplyRefused(
            "refusing to apply without confirmation: no terminal to ask on; "
            "pass --auto-approve to apply from a pipeline"
        )
    answer = click.prompt(
        "\nApply these changes? Only 'yes' is accepted", default="", show_default=False
    )
    if answer.strip() != "yes":
        raise ApplyRefused("apply cancelled; nothing was changed")


def _result_line(result: Any, paint: Painter) -> str:
    action = result.change.action.value
    if result.ok:
        verb = "created" if action == "create" else "updated"
        return f"  {paint('ok', 'green')}   {result.change.tag}: {verb} (id {result.id})"
    return f"  {paint('FAIL', 'red')} {result.change.tag}: {action} failed: {result.error}"


def _load_json(path: str) -> Any:
    from .errors import UsageError

    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read the plan file {path}: {exc}") from None


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--db",
    default=".reconciler/server.db",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="The SQLite store to serve (the same format as the embedded target).",
)
@click.option(
    "--seed",
    type=click.Path(exists=True, dir_okay=False),
    help="YAML seed: user, workspace, products and their catalogue (see examples/seed.yaml).",
)
@handle_errors
def serve(host: str, port: int, db: str, seed: str | None) -> int:
    """Run a local Ductape-compatible server (needs the 'server' extra)."""
    from .errors import UsageError

    try:
        from .server.run import serve as run_server
    except ImportError as exc:
        raise UsageError(
            f"the server needs starlette and uvicorn: pip install 'reconciler[server]' ({exc})"
        ) from None
    run_server(host, port, db, seed)
    return EXIT_OK
