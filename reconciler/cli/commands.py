"""One function per verb: options, one call into :mod:`reconciler.commands`, the exit code."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import click

from ..defaults import DEFAULT_DB, DEFAULT_PARALLELISM, DEFAULT_PORT
from ..errors import EXIT_OK, Interrupted, UsageError
from ..strings import printable
from .base import EPILOG, _arms_stop, _emit, _err, _specs, _use_color, handle_errors, main
from .options import (
    RunOptions,
    color_option,
    format_option,
    paths_argument,
    product_option,
    run_options,
    strict_option,
    target_option,
    timeout_option,
    verbose_option,
)

if TYPE_CHECKING:
    from ..outcome import Outcome
    from ..settings import RunSpec

__all__ = ["main"]

detailed_option = click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when there are no changes, 2 when apply has something to write, 1 on error.",
)


@main.command(epilog=EPILOG)
@paths_argument
@strict_option
@format_option()
@color_option
@click.pass_context
@handle_errors
def validate(
    ctx: click.Context, paths: tuple[str, ...], strict: bool | None, fmt: str, color: bool | None
) -> int:
    """Check every manifest under PATHS against the job schema; reads no target.

    Reports every problem as path:line:col: tag: field: message. Warnings alone pass, unless
    --strict.
    """
    from ..commands import validate as command

    reports = command.run(_specs(ctx, paths, RunOptions(strict=strict)))
    return _emit(reports, fmt, _use_color(ctx, color))


@main.command(epilog=EPILOG)
@paths_argument
@run_options
@verbose_option
@detailed_option
@format_option()
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, writable=True),
    help="Save the plan to FILE; 'apply --plan FILE' applies exactly it, if still fresh.",
)
@color_option
@click.pass_context
@handle_errors
def plan(
    ctx: click.Context,
    paths: tuple[str, ...],
    run: RunOptions,
    verbose: bool,
    detailed_exitcode: bool,
    fmt: str,
    out: str | None,
    color: bool | None,
) -> int:
    """Show what apply would change for the manifests under PATHS. Never writes."""
    from ..commands import plan as command

    specs = _specs(ctx, paths, run)
    if out and len(specs) > 1:
        raise UsageError("--out saves one product's plan: add --only-product NAME")
    with _waiting(specs):
        reports = _scoped(command.plan(specs), specs)
    code = _emit(reports, fmt, _use_color(ctx, color), verbose, detailed=detailed_exitcode)
    if out and reports[0].plan is not None and not reports[0].failed:
        from ..planfile import save
        from ..render.jsonfmt import document

        save(out, document(reports[0]))
        _err(f"Saved the plan to {out}; apply it with: reconciler apply --plan {out}")
    return code


@main.command(epilog=EPILOG)
@paths_argument
@run_options
@verbose_option
@click.option(
    "--write",
    "write_back",
    is_flag=True,
    help="Accept live changes: rewrite the fields that moved live into the manifests, in "
    "place (comments and friendly forms kept). Jobs missing live are left alone.",
)
@click.option(
    "--orphans-to",
    metavar="DIR",
    type=click.Path(file_okay=False),
    help="With --write: also write orphans (live only) as new manifests into DIR.",
)
@format_option()
@color_option
@click.pass_context
@handle_errors
def drift(
    ctx: click.Context,
    paths: tuple[str, ...],
    run: RunOptions,
    verbose: bool,
    write_back: bool,
    orphans_to: str | None,
    fmt: str,
    color: bool | None,
) -> int:
    """Check that the live product still matches Git: exit 0 in sync, 2 on drift.

    Drift is a field changed live, a job missing live, or an orphan (a live job this
    repository owns with no manifest). Foreign jobs and ignored fields never count.
    """
    from ..commands import plan as command

    if orphans_to and not write_back:
        raise UsageError("--orphans-to writes orphans with --write; add --write")
    specs = _specs(ctx, paths, run)
    with _waiting(specs):
        reports = _scoped(command.drift(specs), specs)
    code = _emit(reports, fmt, _use_color(ctx, color), verbose)
    if write_back:
        for accepted, written in command.accept_live(specs, reports, orphans_to):
            _err(
                f"Accepted live changes: {accepted.summary()}; wrote {len(written.edited)} file(s)"
            )
            for path in written.added:
                _err(f"  added {printable(path)}")
    return code


@main.command(epilog=EPILOG)
@click.argument("plan_file", type=click.Path(exists=True, dir_okay=False))
@verbose_option
@detailed_option
@format_option()
@color_option
@click.pass_context
@handle_errors
def show(
    ctx: click.Context,
    plan_file: str,
    verbose: bool,
    detailed_exitcode: bool,
    fmt: str,
    color: bool | None,
) -> int:
    """Render a plan saved by 'plan --out' (for a pull-request comment step, say)."""
    from ..commands import plan as command

    report = command.load(plan_file)
    return _emit([report], fmt, _use_color(ctx, color), verbose, detailed=detailed_exitcode)


@main.command(epilog=EPILOG)
@paths_argument
@run_options
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Apply a plan saved by 'plan --out' instead of planning again; the saved plan is the "
    "approval (no prompt); refused if any job it writes changed live since.",
)
@click.option("--auto-approve", is_flag=True, help="Apply without asking (for pipelines).")
@click.option(
    "--parallelism",
    type=click.IntRange(1, 64),
    default=DEFAULT_PARALLELISM,
    show_default=True,
    help="How many jobs to write at once.",
)
@click.option(
    "--max-changes",
    metavar="N|N%",
    default=None,
    help="Refuse, changing nothing, when the run (every product together) would create and "
    "update more jobs than N, or than N% of the jobs the manifests define.",
)
@format_option()
@color_option
@click.pass_context
@handle_errors
@_arms_stop
def apply(
    ctx: click.Context,
    paths: tuple[str, ...],
    run: RunOptions,
    plan_file: str | None,
    auto_approve: bool,
    parallelism: int,
    max_changes: str | None,
    fmt: str,
    color: bool | None,
) -> int:
    """Create and update live jobs to match the manifests under PATHS."""
    from .. import process
    from ..outcome import ApplyReport
    from ..plan import ChangeBudget

    use_color, text = _use_color(ctx, color), fmt == "text"
    stop = process.current
    budget = ChangeBudget.parse(max_changes) if max_changes is not None else None
    specs = _specs(ctx, paths, run, need_paths=not plan_file)
    if plan_file and paths:
        raise UsageError("give either PATHS or --plan, not both")
    if plan_file and len(specs) > 1:
        raise UsageError("--plan applies one product's plan: add --only-product NAME")
    process.load_for_apply()  # before arming: a signal must not cut an import short
    from ..commands import apply as command
    from ..commands import plan as planning
    from ..render.progress import Lines

    lines = Lines(use_color) if text else None
    progress: command.Progress = lines or command.Progress()
    shown_plans: set[str] = set()

    def show(report: Outcome) -> None:
        waited()  # the target answered: no notice over the plan or the prompt
        if asker is None and not auto_approve and not plan_file:
            return  # refused without a prompt: the refusal is all there is to say
        # stdout for text; stderr for the other formats, whose stdout is a document.
        _emit([report], "text", use_color) if text else _show_on_stderr(report, use_color)
        shown_plans.add(report.product)

    def ask() -> str:
        try:
            return str(
                click.prompt(
                    "\nApply these changes? Only 'yes' is accepted",
                    default="",
                    show_default=False,
                    err=not text,
                )
            )
        except click.exceptions.Abort as exc:  # Ctrl-C (the signal) or Ctrl-D (end of input)
            signum = stop.signum if stop is not None and stop.signum else None
            name = "Ctrl-D" if signum is None else Interrupted(signum).name
            raise Interrupted(signum or 2, f"interrupted at the prompt ({name})") from exc

    asker = ask if sys.stdin.isatty() else None
    approval = command.Approval(auto_approve, show, asker)
    options = command.WriteOptions(approval, parallelism, budget, progress, stop)
    reports: list[ApplyReport] = []
    stack = ExitStack()
    waited = stack.enter_context(_waiting(specs))
    try:
        if stop is not None:
            stop.arm()
        if plan_file:
            saved = planning.load(plan_file, specs[0].ignore_fields)
            if saved.plan is None or saved.error:
                raise UsageError(f"{plan_file} holds no plan to apply: {saved.error or 'invalid'}")
            if text:
                # Shown once the plan is found fresh, as its writes start: a refused plan
                # prints why it was refused, not the whole plan first.
                options = replace(options, progress=_shown_first(progress, saved, show))
            reports = [command.saved(saved, specs[0], options)]
        else:
            reports = _scoped(command.run(specs, options), specs)
    except Interrupted as exc:
        # A signal raises only before a product's writes start: nothing of it was changed.
        name = specs[len(reports)].name if len(reports) < len(specs) else ""
        error = f"{exc}; nothing was changed"
        reports.append(ApplyReport(product=name, error=error, interrupted=exc.signum))
    finally:
        stack.close()
    if stop is not None:
        stop.quiet()  # the report goes out whole, whatever arrives now
    shown = lines.shown if lines is not None else frozenset()
    plans = frozenset(shown_plans) if text else frozenset()
    return _emit(reports, fmt, use_color, results_shown=shown, plans_shown=plans)


R = TypeVar("R", bound="Outcome")

# A read from a stalled server shows nothing until its retries give up (the HTTP target's
# retry budget, 60 s, or --timeout if shorter): on a terminal, say so after this long.
WAIT_NOTICE_AFTER = 2.0
RETRY_BUDGET = 60.0


@contextmanager
def _waiting(specs: Sequence[RunSpec]) -> Iterator[Callable[[], None]]:
    """On a terminal, one line on stderr if the HTTP target has not answered in 2 s.

    Yields the timer's cancel, for a command that reaches its prompt or its writes first.
    """
    remote = [s for s in specs if (s.target or "").startswith(("http://", "https://"))]
    if not remote or not sys.stderr.isatty():
        yield lambda: None
        return
    spec = remote[0]
    parts = urlsplit(spec.target or "")
    where = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    limit = min(RETRY_BUDGET, spec.timeout or RETRY_BUDGET)
    line = f"Waiting for {printable(where)} to answer (it gives up after {limit:g} s) ..."
    timer = threading.Timer(WAIT_NOTICE_AFTER, _err, (line,))
    timer.daemon = True
    timer.start()
    try:
        yield timer.cancel
    finally:
        timer.cancel()


def _scoped(reports: list[R], specs: Sequence[RunSpec]) -> list[R]:
    """Each product's report with what its repository owns, for the plan to say."""
    return [replace(r, owns=s.owns) for r, s in zip(reports, specs, strict=True)]


def _shown_first(inner: Any, saved: Outcome, show: Callable[[Outcome], None]) -> Any:
    """apply --plan's progress: the saved plan shown as its writes start, then ``inner``'s."""
    from ..commands.apply import Progress

    class ShownFirst(Progress):
        def start(self, total: int) -> None:
            show(saved)
            inner.start(total)

        def result(self, result: Any) -> None:
            inner.result(result)

        def progress(self, change: Any) -> None:
            inner.progress(change)

        def finish(self) -> None:
            inner.finish()

    return ShownFirst()


def _show_on_stderr(report: object, color: bool) -> None:
    from ..render import REPORTER_BY_NAME, Options

    shown = REPORTER_BY_NAME["text"]([report], Options(color=color))  # type: ignore[list-item]
    click.echo(shown.err + shown.out, nl=False, err=True, color=color or None)


@main.command(epilog=EPILOG)
@target_option
@product_option
@timeout_option
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False),
    help="Directory to write the manifests to (created if missing).",
)
@click.option("--only", multiple=True, metavar="GLOB", help="Only jobs whose tag matches.")
@click.option("--exclude", multiple=True, metavar="GLOB", help="Leave out jobs whose tag matches.")
@click.option("--force", is_flag=True, help="Overwrite manifests that already exist.")
@click.pass_context
@handle_errors
def export(
    ctx: click.Context,
    target: str | None,
    product: str | None,
    timeout: float,
    out: str,
    only: tuple[str, ...],
    exclude: tuple[str, ...],
    force: bool,
) -> int:
    """Write a product's live jobs as manifests, to take over a product that has jobs.

    Planning the directory right after reports no changes.
    """
    from ..commands import export as command

    spec = _specs(ctx, (), RunOptions(target, product, timeout=timeout), need_paths=False)[0]
    with _waiting([spec]):
        done = command.run(spec, out, only, exclude, force)
    for warning in done.warnings:
        _err(f"warning: {printable(warning)}")
    left = f"; {done.left_out} left out by --only/--exclude" if done.left_out else ""
    click.echo(
        f"Exported {len(done.written)} job(s) to {printable(out)}{left}. "
        f"Check them with: reconciler plan {printable(out)}"
    )
    return EXIT_OK


@main.command(epilog=EPILOG)
@click.option(
    "--write",
    "directory",
    metavar="DIR",
    type=click.Path(file_okay=False),
    help="Keep a copy as DIR/job.schema.json (created if missing) instead of printing it; "
    "with DIR = schemas/ at the repository root, export's modeline points to it.",
)
@handle_errors
def schema(directory: str | None) -> int:
    """Print the job schema (JSON Schema 2020-12, $id urn:ductape-reconciler:schema:job:1).

    Keep a copy in the repository (--write schemas) so that editors, colleagues and CI all
    check manifests against the same file.
    """
    import os

    from ..files import write_atomic
    from ..schema import JOB_SCHEMA_FILE, job_schema_text

    text = job_schema_text()
    if directory is None:
        click.echo(text, nl=False)
        return EXIT_OK
    path = os.path.join(directory, JOB_SCHEMA_FILE)
    try:
        os.makedirs(directory, exist_ok=True)
        write_atomic(path, text)
    except OSError as exc:
        raise UsageError(f"cannot write {printable(path)}: {exc.strerror}") from exc
    click.echo(f"Wrote the job schema to {printable(path)}")
    return EXIT_OK


@main.command(epilog=EPILOG)
@target_option
@product_option
@timeout_option
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False),
    help="The file to write the snapshot to (replaced whole).",
)
@click.pass_context
@handle_errors
def snapshot(
    ctx: click.Context, target: str | None, product: str | None, timeout: float, out: str
) -> int:
    """Save what a plan needs from the live product to a file, without a secret.

    Plan against it with no credentials: reconciler plan --target snapshot:FILE PATHS.
    RECONCILER_MAX_AGE (such as 24h) makes an older snapshot an error there.
    """
    from ..commands import snapshot as command

    spec = _specs(ctx, (), RunOptions(target, product, timeout=timeout), need_paths=False)[0]
    with _waiting([spec]):
        document = command.run(spec, out)
    click.echo(
        f"Saved a snapshot of product {printable(document['product']['name'])} "
        f"({len(document['jobs'])} job(s)) to {printable(out)}; plan against it with: "
        f"reconciler plan --target snapshot:{printable(out)} PATHS"
    )
    return EXIT_OK


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--db",
    default=DEFAULT_DB,
    show_default=True,
    type=click.Path(dir_okay=False),
    help="The SQLite store to serve (the same format as the embedded target).",
)
@click.option(
    "--seed",
    type=click.Path(exists=True, dir_okay=False),
    help="YAML seed: user, workspace, products and their catalogue (see examples/seed.yaml).",
)
@click.option(
    "--wire",
    type=click.Choice(["strict", "full"]),
    default="strict",
    show_default=True,
    help="strict: a job PUT answers as Ductape does (no product); full: with the whole "
    "product, for older clients.",
)
@click.option(
    "--token-ttl",
    type=click.FloatRange(min=1),
    default=None,
    metavar="SECONDS",
    help="How long tokens live (default: token_ttl: in the seed, else 12 h).",
)
@handle_errors
def serve(
    host: str, port: int, db: str, seed: str | None, wire: str, token_ttl: float | None
) -> int:
    """Run a local Ductape-compatible server (needs the 'server' extra)."""
    try:
        from ..server.run import serve as run_server
    except ImportError as exc:
        raise UsageError(
            "the server needs starlette and uvicorn: pip install "
            f"'ductape-reconciler[server] @ git+<this repository>' or pip install '.[server]' "
            f"({exc})"
        ) from exc
    run_server(host, port, db, seed, wire=wire, token_ttl=token_ttl)
    return EXIT_OK


@main.command(epilog=EPILOG)
@paths_argument
@run_options
@click.option("--window", default="7d", show_default=True, help="How far to look (a duration).")
@click.option(
    "--from", "start", metavar="TIME", help="Where to start (ISO with a zone; default now)."
)
@click.option(
    "--collide", default="60s", show_default=True, help="Starts closer than this collide."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown", "svg"]),
    default="text",
    show_default=True,
)
@click.option("--spread", "propose", is_flag=True, help="Propose start times that flatten peaks.")
@click.option("--between", metavar="HH:MM-HH:MM", help="With --spread: daily jobs in this window.")
@click.option(
    "--write", "write_back", is_flag=True, help="With --spread: write the proposals in place."
)
@color_option
@click.pass_context
@handle_errors
def schedule(
    ctx: click.Context,
    paths: tuple[str, ...],
    run: RunOptions,
    window: str,
    start: str | None,
    collide: str,
    fmt: str,
    propose: bool,
    between: str | None,
    write_back: bool,
    color: bool | None,
) -> int:
    """The product's timeline: runs per hour, busiest minutes, collisions, quiet windows.

    Offline (no target named) it shows the manifests; with a target, live (before) and the
    manifests (after). Repeats are taken as anchored at start_at (see the README).
    """
    from ..commands import schedule as command
    from ..model import parse_duration, parse_timestamp
    from ..render import timeline as pictures
    from ..timeline import parse_between

    if write_back and not propose:
        raise UsageError("--write writes the proposals of --spread; add --spread")
    try:
        span, near = parse_duration(window), parse_duration(collide)
        first = parse_timestamp(start) if start else None  # None: the first day with runs
        daily = parse_between(between) if between else None
    except ValueError as exc:
        raise UsageError(f"schedule: {exc}") from exc
    specs = _specs(ctx, paths, run)
    offline = all(spec.origin == "default" for spec in specs)
    found = command.run(specs, first, span, near, offline, propose, daily, write_back)
    use_color = _use_color(ctx, color)
    for one in found:
        if fmt == "json":
            click.echo(pictures.json_text(one.impact))
        elif fmt == "markdown":
            click.echo(pictures.markdown(one.impact))
        elif fmt == "svg":
            click.echo(pictures.svg(one.impact))
        else:
            click.echo(pictures.text(one.impact, use_color), color=use_color or None)
            if one.impact.spread is not None:
                click.echo(pictures.spread_text(one.impact.spread))
        if one.written is not None:
            _err(f"Wrote the proposed start_at values into {len(one.written.edited)} file(s)")
    return EXIT_OK
