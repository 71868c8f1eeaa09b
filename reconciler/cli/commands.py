"""One function per verb: its options, one call into :mod:`reconciler.commands`, the exit code.

A command that reports is declared with :func:`.base.reporting`: it gets an ``Output`` (the
format, colours, how much to show) and returns the report's exit code.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from ..defaults import DEFAULT_DB, DEFAULT_PARALLELISM, DEFAULT_PORT
from ..errors import EXIT_OK, Interrupted, UsageError
from ..process import arms_stop, handle_errors
from .base import EPILOG, Output, echo, main, reporting, specs
from .options import (
    detailed_option,
    paths_argument,
    product_option,
    quiet_option,
    references_option,
    run_options,
    selection_options,
    strict_option,
    target_option,
    timeout_option,
    verbose_option,
)

__all__ = ["main"]
command = main.command(epilog=EPILOG)
PROMPT = "\nApply these changes? Only 'yes' is accepted"
PLAN_OUT = "Save the plan to FILE; 'apply --plan FILE' applies exactly it, if still fresh."
WRITE = (
    "Accept live changes: rewrite the fields that moved live into the manifests, in place "
    "(comments and friendly forms kept). Jobs missing live are left alone."
)
ORPHANS = "With --write: also write orphans (live only) as new manifests into DIR."
PLAN_FILE = (
    "Apply a plan saved by 'plan --out' instead of planning again; the saved plan is the "
    "approval (no prompt); refused if any job it writes changed live since."
)
REFERENCES_TARGET = (
    "Also check each event_tag against this target's catalogue (snapshot:FILE needs no "
    "credentials). Read only when given here: not from the environment or .reconciler.yaml."
)
MAX_CHANGES = (
    "Refuse, changing nothing, when the run (every product together) would create and update "
    "more jobs than N, or than N% of the jobs the manifests define."
)
a_file, a_directory = click.Path(dir_okay=False), click.Path(file_okay=False)
an_input = click.Path(exists=True, dir_okay=False)


@reporting(
    paths_argument,
    strict_option,
    click.option("--target", metavar="URL", help=REFERENCES_TARGET),
    product_option,
    references_option,
    timeout_option,
)
def validate(output: Output, paths: tuple[str, ...], **run: Any) -> int:
    """Check every manifest under PATHS against the job schema.

    Reports every problem as path:line:col: tag: field: message. Warnings alone pass, unless
    --strict. Reads no target unless --target is given on the command line.
    """
    from ..commands import validate as command

    reports = command.run(output.specs(paths, run), references=run["target"] is not None)
    return output.emit(reports)


@reporting(
    paths_argument,
    run_options,
    verbose_option,
    quiet_option,
    detailed_option,
    click.option("--out", type=a_file, help=PLAN_OUT),
)
def plan(output: Output, paths: tuple[str, ...], run: Any, out: str | None) -> int:
    """Show what apply would change for the manifests under PATHS. Never writes."""
    from ..commands import plan as command
    from ..render import console

    found = output.specs(paths, run)
    with console.waiting(found, _err):
        reports = command.plan(found, out)
    code = output.emit(reports)
    if out and reports[0].plan is not None and not reports[0].failed:
        output.echo(console.save_plan(reports[0], out))
    return code


@reporting(
    paths_argument,
    run_options,
    verbose_option,
    quiet_option,
    click.option("--write", "write_back", is_flag=True, help=WRITE),
    click.option("--orphans-to", metavar="DIR", type=a_directory, help=ORPHANS),
)
def drift(output: Output, paths: Any, run: Any, write_back: bool, orphans_to: str | None) -> int:
    """Check that the live product still matches Git: exit 0 in sync, 2 on drift.

    Drift is a field changed live, a job missing live, or an orphan (a live job this
    repository owns with no manifest). Foreign jobs and ignored fields never count.
    """
    from ..commands import plan as command
    from ..render import console

    found = output.specs(paths, run)
    with console.waiting(found, _err):
        reports = command.drift(found, write_back, orphans_to)
    code = output.emit(reports)
    if write_back:
        output.echo(console.accepted(command.accept_live(found, reports, orphans_to)))
    return code


@reporting(
    click.argument("plan_file", type=an_input), verbose_option, quiet_option, detailed_option
)
def show(output: Output, plan_file: str) -> int:
    """Render a plan saved by 'plan --out' (for a pull-request comment step, say)."""
    from ..commands import plan as command

    return output.emit([command.load(plan_file)])


@reporting(
    paths_argument,
    run_options,
    click.option("--plan", "plan_file", type=an_input, help=PLAN_FILE),
    click.option("--auto-approve", is_flag=True, help="Apply without asking (for pipelines)."),
    click.option(
        "--parallelism",
        type=click.IntRange(1, 64),
        default=DEFAULT_PARALLELISM,
        show_default=True,
        help="How many jobs to write at once.",
    ),
    click.option("--max-changes", metavar="N|N%", help=MAX_CHANGES),
    quiet_option,
)
@arms_stop
def apply(output: Output, paths: tuple[str, ...], run: Any, **asked: Any) -> int:
    """Create and update live jobs to match the manifests under PATHS."""
    from .. import process

    found = output.specs(paths, run, need=not asked["plan_file"])
    process.load_for_apply()  # before arming: a signal must not cut an import short
    from ..commands.apply import main as command
    from ..render.progress import Watching

    ask = _asker(err=output.fmt != "text") if sys.stdin.isatty() else None
    with Watching(found, output.fmt, output.color, output.echo) as screen:
        reports = command(found, screen, ask, process.current, bool(paths), **asked)
    return output.emit(reports, **screen.shown)


def _asker(err: bool) -> Callable[[], str]:
    def ask() -> str:
        from .. import process

        try:
            return str(click.prompt(PROMPT, default="", show_default=False, err=err))
        except click.exceptions.Abort as exc:  # Ctrl-C (the signal) or Ctrl-D (end of input)
            signum = getattr(process.current, "signum", None)
            name = Interrupted(signum).name if signum else "Ctrl-D"
            raise Interrupted(signum or 2, f"interrupted at the prompt ({name})") from exc

    return ask


@command
@target_option
@product_option
@timeout_option
@click.option(
    "--out",
    required=True,
    type=a_directory,
    help="Directory to write the manifests to (created if missing).",
)
@selection_options
@click.option("--force", is_flag=True, help="Overwrite manifests that already exist.")
@click.pass_context
@handle_errors
def export(
    ctx: click.Context, /, out: str, force: bool, only: Any, exclude: Any, **run: Any
) -> int:
    """Write a product's live jobs as manifests, to take over a product that has jobs.

    Planning the directory right after reports no changes.
    """
    from ..commands import export as command
    from ..render import console

    spec = specs(ctx, (), run, need_paths=False)[0]
    with console.waiting([spec], _err):
        echo(console.exported(command.run(spec, out, only, exclude, force)))
    return EXIT_OK


@command
@click.option(
    "--write",
    "directory",
    metavar="DIR",
    type=a_directory,
    help="Keep a copy as DIR/job.schema.json (created if missing) instead of printing "
    "it; with DIR = schemas/ at the repository root, export's modeline points to it.",
)
@handle_errors
def schema(directory: str | None) -> int:
    """Print the job schema (JSON Schema 2020-12, $id urn:ductape-reconciler:schema:job:1).

    Keep a copy in the repository (--write schemas) so that editors, colleagues and CI all
    check manifests against the same file.
    """
    from ..commands import schema as command
    from ..render import Rendered

    text, path = command.run(directory)
    echo(Rendered(f"Wrote the job schema to {path}\n" if path else text))
    return EXIT_OK


@command
@target_option
@product_option
@timeout_option
@click.option(
    "--out", required=True, type=a_file, help="The file to write the snapshot to (replaced whole)."
)
@click.pass_context
@handle_errors
def snapshot(ctx: click.Context, /, out: str, **run: Any) -> int:
    """Save what a plan needs from the live product to a file, without a secret.

    Plan against it with no credentials: reconciler plan --target snapshot:FILE PATHS.
    RECONCILER_MAX_AGE (such as 24h) makes an older snapshot an error there.
    """
    from ..commands import snapshot as command
    from ..render import console

    spec = specs(ctx, (), run, need_paths=False)[0]
    with console.waiting([spec], _err):
        echo(console.snapshot_saved(command.run(spec, out), out))
    return EXIT_OK


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--db",
    default=DEFAULT_DB,
    show_default=True,
    type=a_file,
    help="The SQLite store to serve (the same format as the embedded target).",
)
@click.option(
    "--seed",
    type=an_input,
    help="YAML seed: user, workspace, products and their catalogue (see examples/seed.yaml).",
)
@click.option(
    "--wire",
    type=click.Choice(["strict", "full"]),
    default="strict",
    show_default=True,
    help="strict: a job PUT answers as Ductape does (no "
    "product); full: with the whole product, for older clients.",
)
@click.option(
    "--token-ttl",
    type=click.FloatRange(min=1),
    metavar="SECONDS",
    help="How long tokens live (default: token_ttl: in the seed, else 12 h).",
)
@handle_errors
def serve(**options: Any) -> int:
    """Run a local Ductape-compatible server (needs the 'server' extra)."""
    try:
        from ..server.run import serve as run_server
    except ImportError as exc:
        raise UsageError(
            "the server needs starlette and uvicorn: pip install "
            f"'ductape-reconciler[server] @ git+<this repository>' or pip install '.[server]' "
            f"({exc})"
        ) from exc
    run_server(**options)
    return EXIT_OK


@reporting(
    paths_argument,
    run_options,
    click.option("--window", default="7d", show_default=True, help="How far to look (a duration)."),
    click.option(
        "--from", "start", metavar="TIME", help="Where to start (ISO with a zone; default now)."
    ),
    click.option(
        "--collide", default="60s", show_default=True, help="Starts closer than this collide."
    ),
    click.option(
        "--spread", "propose", is_flag=True, help="Propose start times that flatten peaks."
    ),
    click.option(
        "--between", metavar="HH:MM-HH:MM", help="With --spread: daily jobs in this window."
    ),
    click.option(
        "--write", "write_back", is_flag=True, help="With --spread: write the proposals in place."
    ),
    formats=("text", "json", "markdown", "svg"),
    help="svg: a picture of the week.",
)
def schedule(output: Output, paths: tuple[str, ...], run: Any, **asked: Any) -> int:
    """The product's timeline: runs per hour, busiest minutes, collisions, quiet windows.

    Offline (no target named) it shows the manifests; with a target, live (before) and the
    manifests (after). Repeats are taken as anchored at start_at (see the README).
    """
    from ..commands import schedule as command
    from ..render import console

    found = command.run(output.specs(paths, run), **asked)
    output.echo(console.schedules(found, output.fmt, output.color))
    return EXIT_OK


def _err(line: str) -> None:
    click.echo(line, err=True)
