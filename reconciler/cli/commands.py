"""One function per verb: its options, one call into :mod:`reconciler.commands`, the exit code.

Every command is declared with :func:`.base.reporting`: it gets an ``Output`` (its settings,
the format, colours, how much to show) and returns the exit code of what it printed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from ..defaults import DEFAULT_DB, DEFAULT_PARALLELISM, DEFAULT_PORT
from ..errors import EXIT_OK, Interrupted, UsageError
from ..process import arms_stop
from .base import Output, main, reporting
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
SCHEMA_WRITE = (
    "Keep a copy as DIR/job.schema.json (created if missing) instead of printing it; with "
    "DIR = schemas/ at the repository root, export's modeline points to it."
)
WIRE = (
    "strict: a job PUT answers as Ductape does (no product); full: with the whole product, "
    "for older clients."
)
EXPORT_OUT = "Directory to write the manifests to (created if missing)."
DB = "The SQLite store to serve (the same format as the embedded target)."
SEED = "YAML seed: user, workspace, products and their catalogue (see examples/seed.yaml)."
TOKEN_TTL = "How long tokens live (default: token_ttl: in the seed, else 12 h)."
COLLIDE, SPREAD = "Starts closer than this collide.", "Propose start times that flatten peaks."
FROM = "Where to start (ISO with a zone; default now)."
BETWEEN = "With --spread: daily jobs in this window."
SPREAD_WRITE = "With --spread: write the proposals in place."
a_file, a_directory = click.Path(dir_okay=False), click.Path(file_okay=False)
an_input = click.Path(exists=True, dir_okay=False)
SNAPSHOT_OUT = "The file to write the snapshot to (replaced whole)."
live_options = (target_option, product_option, timeout_option)
listing = (verbose_option, quiet_option)


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
    from ..commands.validate import run as command

    return output.emit(command(output.specs(paths, run), references=run["target"] is not None))


@reporting(
    paths_argument,
    run_options,
    *listing,
    detailed_option,
    click.option("--out", type=a_file, help=PLAN_OUT),
)
def plan(output: Output, paths: tuple[str, ...], run: Any, out: str | None) -> int:
    """Show what apply would change for the manifests under PATHS. Never writes."""
    from ..commands.plan import plan as command
    from ..render.console import save_plan

    found = output.specs(paths, run)
    saved = (lambda reports: save_plan(reports[0], out)) if out else None
    return output.emit(output.waited(found, command, found, out), saved)


@reporting(
    paths_argument,
    run_options,
    *listing,
    click.option("--write", "write_back", is_flag=True, help=WRITE),
    click.option("--orphans-to", metavar="DIR", type=a_directory, help=ORPHANS),
)
def drift(output: Output, paths: Any, run: Any, write_back: bool, orphans_to: str | None) -> int:
    """Check that the live product still matches Git: exit 0 in sync, 2 on drift.

    Drift is a field changed live, a job missing live, or an orphan (a live job this
    repository owns with no manifest). Foreign jobs and ignored fields never count.
    """
    from ..commands import plan as command
    from ..render.console import accepted

    found = output.specs(paths, run)
    reports = output.waited(found, command.drift, found, write_back, orphans_to)
    written = (
        (lambda r: accepted(command.accept_live(found, r, orphans_to))) if write_back else None
    )
    return output.emit(reports, written)


@reporting(click.argument("plan_file", type=an_input), *listing, detailed_option)
def show(output: Output, plan_file: str) -> int:
    """Render a plan saved by 'plan --out' (for a pull-request comment step, say)."""
    from ..commands.plan import load

    return output.emit([load(plan_file)])


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


@reporting(
    *live_options,
    click.option("--out", required=True, type=a_directory, help=EXPORT_OUT),
    selection_options,
    click.option("--force", is_flag=True, help="Overwrite manifests that already exist."),
    formats=(),
)
def export(output: Output, out: str, force: bool, only: Any, exclude: Any, **run: Any) -> int:
    """Write a product's live jobs as manifests, to take over a product that has jobs.

    Planning the directory right after reports no changes.
    """
    from ..commands.export import run as command
    from ..render.console import exported

    spec = output.specs(run=run, need=False)[0]
    return output.echo(exported(output.waited([spec], command, spec, out, only, exclude, force)))


@reporting(
    click.option("--write", "directory", metavar="DIR", type=a_directory, help=SCHEMA_WRITE),
    formats=(),
)
def schema(output: Output, directory: str | None) -> int:
    """Print the job schema (JSON Schema 2020-12, $id urn:ductape-reconciler:schema:job:1).

    Keep a copy in the repository (--write schemas) so that editors, colleagues and CI all
    check manifests against the same file.
    """
    from ..commands.schema import run as command
    from ..render.console import schema_written

    return output.echo(schema_written(*command(directory)))


@reporting(
    *live_options, click.option("--out", required=True, type=a_file, help=SNAPSHOT_OUT), formats=()
)
def snapshot(output: Output, out: str, **run: Any) -> int:
    """Save what a plan needs from the live product to a file, without a secret.

    Plan against it with no credentials: reconciler plan --target snapshot:FILE PATHS.
    RECONCILER_MAX_AGE (such as 24h) makes an older snapshot an error there.
    """
    from ..commands.snapshot import run as command
    from ..render.console import snapshot_saved

    spec = output.specs(run=run, need=False)[0]
    return output.echo(snapshot_saved(output.waited([spec], command, spec, out), out))


@reporting(
    click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on."),
    click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535)),
    click.option("--db", default=DEFAULT_DB, show_default=True, type=a_file, help=DB),
    click.option("--seed", type=an_input, help=SEED),
    click.option(
        "--wire",
        type=click.Choice(["strict", "full"]),
        default="strict",
        show_default=True,
        help=WIRE,
    ),
    click.option("--token-ttl", type=click.FloatRange(min=1), metavar="SECONDS", help=TOKEN_TTL),
    formats=(),
)
def serve(output: Output, **options: Any) -> int:
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
    click.option("--from", "start", metavar="TIME", help=FROM),
    click.option("--collide", default="60s", show_default=True, help=COLLIDE),
    click.option("--spread", "propose", is_flag=True, help=SPREAD),
    click.option("--between", metavar="HH:MM-HH:MM", help=BETWEEN),
    click.option("--write", "write_back", is_flag=True, help=SPREAD_WRITE),
    formats=("text", "json", "markdown", "svg"),
    help="svg: a picture of the week.",
)
def schedule(output: Output, paths: tuple[str, ...], run: Any, **asked: Any) -> int:
    """The product's timeline: runs per hour, busiest minutes, collisions, quiet windows.

    Offline (no target named) it shows the manifests; with a target, live (before) and the
    manifests (after). Repeats are taken as anchored at start_at (see the README).
    """
    from ..commands.schedule import run as command
    from ..render.console import schedules

    found = command(output.specs(paths, run), **asked)
    return output.echo(schedules(found, output.fmt, output.color))
