"""The command line: options in, one core call per product, a report and an exit code out.

This is the only place errors become messages. Heavy modules (jsonschema, deepdiff, httpx)
are imported inside the commands, so ``reconciler --help`` starts fast.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

import click

from . import __version__
from .defaults import DEFAULT_DB, DEFAULT_PARALLELISM, DEFAULT_PORT, DEFAULT_TIMEOUT
from .errors import (
    EXIT_CODES,
    EXIT_CRASH,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    ApplyRefused,
    Interrupted,
    ReconcilerError,
    Stop,
    UsageError,
)

if TYPE_CHECKING:
    from .apply import Result
    from .outcome import Outcome
    from .plan import Change
    from .settings import RunSpec

F = TypeVar("F", bound=Callable[..., Any])
FORMATS = ("text", "json", "markdown", "github")


def exit_code_epilog() -> str:
    """The help epilog, generated from the one exit-code table in errors.py."""
    lines = ["\b", "Exit codes:"]
    lines += [f"  {code:<4} {meaning}" for code, meaning in EXIT_CODES]
    return "\n".join(lines)


EPILOG = exit_code_epilog()


class Group(click.Group):
    """Usage errors exit 1 (2 means "changes" here); no arguments prints help and exits 0."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        # Called with no arguments: the console script, the process itself (see
        # _signals_handled); with arguments: a caller running a command in-process.
        in_process = bool(args) or kwargs.get("args") is not None
        try:
            return self._main(in_process, *args, **kwargs)
        except SystemExit as exc:
            if in_process:
                raise
            _exit_now(exc.code)

    def _main(self, in_process: bool, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            with _signals_handled(restore=in_process):
                return super().main(*args, **kwargs)
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help() if exc.ctx else "")
            sys.exit(EXIT_OK)
        except click.UsageError as exc:
            exc.show()
            sys.exit(EXIT_ERROR)
        except click.exceptions.Abort:
            click.echo("interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except Interrupted as exc:  # a signal before a command's own handler ran
            click.echo("interrupted", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(EXIT_ERROR)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)


def _exit_now(code: object) -> None:
    """End the process once its report is out, skipping the interpreter's shutdown: that
    shutdown puts the default signal handlers back and takes a while (half a second with
    the libraries loaded), so a SIGTERM then killed a run whose report was already printed.
    Daemon threads still in a hung request end with the process."""
    status = code if isinstance(code, int) else (0 if code is None else EXIT_ERROR)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more to say
            stream.flush()
    os._exit(status)


def _err(line: str) -> None:
    click.echo(line, err=True)


def write_crash_log() -> str:
    """The current exception's traceback in a new file of its own; its path.

    A fixed name in the shared temp directory could be a link planted by another user, or be
    read by one: mkstemp creates a fresh file (O_EXCL, mode 0600) that no link can redirect.
    """
    handle, path = tempfile.mkstemp(prefix="reconciler-crash-", suffix=".log")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(f"reconciler {__version__}, python {sys.version}\n")
        out.write(f"argv: {sys.argv!r}\n\n")
        traceback.print_exc(file=out)
    return path


# The run's one stop request, driven by SIGINT and SIGTERM while a command runs.
_stop: Stop | None = None
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def _signals_handled(restore: bool) -> Iterator[None]:
    """SIGINT and SIGTERM handled alike while the command runs.

    The process itself (``restore`` False) keeps the handler to its end, quiet once the
    command is done: a signal while the process exits changes nothing, where the default
    action would kill it (SIGTERM) or print a traceback (SIGINT). A caller running commands
    in-process (tests) gets its own handlers back.
    """
    global _stop
    stop = Stop(raising=False)  # armed by the command (handle_errors), once it can report
    main_thread = threading.current_thread() is threading.main_thread()
    previous = [signal.signal(s, stop) for s in _SIGNALS] if main_thread else []
    _stop = stop
    try:
        yield
    finally:
        stop.quiet()
        if restore:
            _stop = None
            for signum, handler in zip(_SIGNALS, previous, strict=False):
                signal.signal(signum, handler)


def _load_modules() -> None:
    """Import what apply loads lazily, and its report needs even after an interrupt: a
    module whose import a signal cut short stays broken for the rest of the process."""
    from . import core  # noqa: F401
    from .render import github, jsonfmt, markdown, text  # noqa: F401
    from .targets import ductape  # noqa: F401


def _arms_stop(func: F) -> F:
    """Mark a command that arms the signal handlers itself, once it can report an interrupt
    in its own format (handle_errors arms them for the others)."""
    func.arms_stop = True  # type: ignore[attr-defined]
    return func


def handle_errors(func: F) -> F:
    """Expected errors: one line and their exit code. A bug: one line, a crash log, exit 3.
    SIGINT and SIGTERM: "interrupted", exit 130 or 143 (apply reports what it wrote first)."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            if _stop is not None and not getattr(func, "arms_stop", False):
                _stop.arm()
            code = func(*args, **kwargs)
        except ReconcilerError as exc:
            from .strings import printable

            _err(f"error: {printable(str(exc))}")
            sys.exit(exc.exit_code)
        except Interrupted as exc:
            _err("interrupted")
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            _err("interrupted")
            sys.exit(EXIT_INTERRUPTED)
        except Exception as exc:
            try:
                where = f"the traceback is in {write_crash_log()}"
            except OSError:
                where = "no crash log could be written"
            _err(
                f"internal error: {type(exc).__name__}: this is a bug in reconciler; "
                f"{where} (please attach it to a bug report)"
            )
            sys.exit(EXIT_CRASH)
        sys.exit(code or EXIT_OK)

    return wrapper  # type: ignore[return-value]


# --- options shared by the commands -----------------------------------------------------


def _color_option(func: F) -> F:
    return click.option(
        "--color/--no-color",
        default=None,
        help="Colour the output (default: on a terminal, unless NO_COLOR is set).",
    )(func)


target_option = click.option(
    "--target",
    envvar="RECONCILER_TARGET",
    metavar="URL",
    help="Where live jobs are: sqlite:///PATH or a Ductape base URL such as "
    "https://api.ductape.app (default: target: in .reconciler.yaml, else .reconciler/local.db).",
)
product_option = click.option(
    "--product",
    envvar="DUCTAPE_PRODUCT",
    help="The product whose jobs to manage, by name or id (default: product: in "
    ".reconciler.yaml, else 'default' in the embedded store).",
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
verbose_option = click.option(
    "-v", "--verbose", is_flag=True, help="List unchanged and foreign jobs too."
)
strict_option = click.option(
    "--strict/--no-strict",
    default=None,
    help="Treat warnings as errors: exit 1, and apply writes nothing (default: strict: in "
    ".reconciler.yaml, else off).",
)
timeout_option = click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    metavar="SECONDS",
    help="Deadline for the whole run against the target.",
)


def format_option(default: str = "text") -> Callable[[F], F]:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default=default,
        show_default=True,
        help="text for people; json for pipelines; markdown for a pull-request comment or "
        "step summary; github for workflow annotations.",
    )


@dataclass(frozen=True)
class RunOptions:
    """The options every command that reads a target shares, as one value."""

    target: str | None = None
    product: str | None = None
    references: str = "warn"
    only: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    ignore_field: tuple[str, ...] = ()
    only_product: str | None = None
    timeout: float | None = None
    strict: bool | None = None


_RUN_OPTION_NAMES = tuple(f.name for f in fields(RunOptions))


def run_options(func: F) -> F:
    """Add the target, selection and timeout options; the command gets one ``run`` value."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        values = {name: kwargs.pop(name) for name in _RUN_OPTION_NAMES if name in kwargs}
        return func(*args, run=RunOptions(**values), **kwargs)

    decorators = [
        target_option,
        product_option,
        references_option,
        click.option(
            "--only",
            multiple=True,
            metavar="GLOB",
            help="Only jobs whose tag matches (repeatable).",
        ),
        click.option(
            "--exclude",
            multiple=True,
            metavar="GLOB",
            help="Leave out jobs whose tag matches (repeatable).",
        ),
        click.option(
            "--ignore-field",
            "ignore_field",
            multiple=True,
            metavar="FIELD",
            help="Leave a field an operator owns out of the comparison (repeatable; adds to "
            "ignore_fields: in .reconciler.yaml).",
        ),
        click.option(
            "--only-product",
            metavar="NAME",
            help="With products: in .reconciler.yaml, run only this one.",
        ),
        timeout_option,
        strict_option,
    ]
    for decorate in reversed(decorators):
        wrapper = decorate(wrapper)
    return wrapper  # type: ignore[return-value]


# --- the group ----------------------------------------------------------------------------


@click.group(
    cls=Group,
    epilog=EPILOG,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="reconciler")
@_color_option
@click.pass_context
def main(ctx: click.Context, color: bool | None) -> None:
    """Keep Ductape scheduled jobs in Git: validate, plan, apply, drift.

    Jobs that exist only live are reported, never removed: Ductape has no delete.
    Settings: flag > environment variable > .reconciler.yaml > default.
    """
    ctx.obj = {"color": color}


def _use_color(ctx: click.Context, local: bool | None) -> bool:
    choice = local if local is not None else (ctx.obj or {}).get("color")
    if choice is None:
        return sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    return bool(choice)


def _specs(
    ctx: click.Context,
    paths: tuple[str, ...],
    run: RunOptions | None = None,
    need_paths: bool = True,
) -> list[RunSpec]:
    """One RunSpec per product: what was asked, resolved by settings.resolve."""
    from .config import load_config
    from .settings import Asked, resolve

    run = run or RunOptions()

    def from_flag(name: str, *sources: str) -> bool:
        source = ctx.get_parameter_source(name)
        return source is not None and source.name in sources

    asked = Asked(
        command=ctx.info_name or "",
        paths=paths,
        target=run.target,
        target_given=from_flag("target", "COMMANDLINE", "ENVIRONMENT"),
        product=run.product,
        product_from_flag=from_flag("product", "COMMANDLINE"),
        references=run.references,  # type: ignore[arg-type]
        only=run.only,
        exclude=run.exclude,
        ignore_fields=run.ignore_field,
        only_product=run.only_product,
        timeout=run.timeout,
        strict=run.strict,
        need_paths=need_paths,
    )
    return resolve(load_config(paths), asked, os.environ)


def _emit(
    outcomes: Sequence[Outcome],
    fmt: str,
    color: bool,
    verbose: bool = False,
    results_shown: frozenset[str] = frozenset(),
) -> None:
    from .render import REPORTER_BY_NAME, Options

    rendered = REPORTER_BY_NAME[fmt](  # type: ignore[index]
        outcomes, Options(color=color, verbose=verbose, results_shown=results_shown)
    )
    if rendered.err:
        click.echo(rendered.err, nl=False, err=True, color=color or None)
    if fmt != "text":
        # The document on stdout says why; a person reading the log gets the one line too.
        from .strings import printable

        for outcome in outcomes:
            if outcome.error:
                _err(f"error: {printable(outcome.error)}")
    if rendered.out:
        # click strips ANSI codes when stdout is not a terminal; --color means keep them.
        click.echo(rendered.out, nl=False, color=color or None)


def _code(outcomes: Sequence[Outcome], detailed: bool = False) -> int:
    from .outcome import worst

    return worst([o.exit_code(detailed) for o in outcomes])


# --- commands -----------------------------------------------------------------------------


@main.command(epilog=EPILOG)
@paths_argument
@strict_option
@format_option()
@_color_option
@click.pass_context
@handle_errors
def validate(
    ctx: click.Context, paths: tuple[str, ...], strict: bool | None, fmt: str, color: bool | None
) -> int:
    """Check every manifest under PATHS against the job schema; reads no target.

    Reports every problem as path:line:col: tag: field: message. Warnings alone pass, unless
    --strict.
    """
    from .core import validate as run

    outcomes = [run(spec) for spec in _specs(ctx, paths, RunOptions(strict=strict))]
    _emit(outcomes, fmt, _use_color(ctx, color))
    return _code(outcomes)


@main.command(epilog=EPILOG)
@paths_argument
@run_options
@verbose_option
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when there are no changes, 2 when apply has something to write, 1 on error.",
)
@format_option()
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, writable=True),
    help="Save the plan to FILE; 'apply --plan FILE' applies exactly it, if still fresh.",
)
@_color_option
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
    from . import core

    specs = _specs(ctx, paths, run)
    if out and len(specs) > 1:
        raise UsageError("--out saves one product's plan: add --only-product NAME")
    outcomes = [core.plan(spec) for spec in specs]
    _emit(outcomes, fmt, _use_color(ctx, color), verbose)
    if out and outcomes[0].plan is not None and not outcomes[0].failed:
        from .planfile import save
        from .render.jsonfmt import document

        save(out, document(outcomes[0]))
        _err(f"Saved the plan to {out}; apply it with: reconciler apply --plan {out}")
    return _code(outcomes, detailed_exitcode)


@main.command(epilog=EPILOG)
@paths_argument
@run_options
@verbose_option
@format_option()
@_color_option
@click.pass_context
@handle_errors
def drift(
    ctx: click.Context,
    paths: tuple[str, ...],
    run: RunOptions,
    verbose: bool,
    fmt: str,
    color: bool | None,
) -> int:
    """Check that the live product still matches Git: exit 0 in sync, 2 on drift.

    Drift is a field changed live, a job missing live, or an orphan (a live job this
    repository owns with no manifest). Foreign jobs and ignored fields never count.
    """
    from . import core

    outcomes = [core.plan(spec, "drift") for spec in _specs(ctx, paths, run)]
    _emit(outcomes, fmt, _use_color(ctx, color), verbose)
    return _code(outcomes)


@main.command(epilog=EPILOG)
@click.argument("plan_file", type=click.Path(exists=True, dir_okay=False))
@verbose_option
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when the plan has no changes, 2 when it has, 1 on error.",
)
@format_option()
@_color_option
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
    from .core import load_saved

    outcome = load_saved(plan_file, "show")
    _emit([outcome], fmt, _use_color(ctx, color), verbose)
    return _code([outcome], detailed_exitcode)


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
    type=click.IntRange(0),
    default=None,
    help="Refuse, changing nothing, when the plan would create and update more jobs "
    "than this (a guard against a bad merge).",
)
@format_option()
@_color_option
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
    max_changes: int | None,
    fmt: str,
    color: bool | None,
) -> int:
    """Create and update live jobs to match the manifests under PATHS."""
    use_color = _use_color(ctx, color)
    text = fmt == "text"
    stop = _stop or Stop()
    progress: _Progress | None = None
    specs: list[RunSpec] = []
    outcomes: list[Outcome] = []
    try:
        _load_modules()  # before arming: a signal must not cut an import short
        stop.arm()
        from . import core

        progress = _Progress(use_color) if text else None

        def approve(outcome: Outcome) -> None:
            """Show the plan where a person reads it, ask unless approved, then start counting."""
            from .render import REPORTER_BY_NAME, Options

            if not outcome.results and outcome.command == "apply" and not plan_file:
                shown = REPORTER_BY_NAME["text"]([outcome], Options(color=use_color))
                click.echo(shown.err, nl=False, err=True)
                # stdout for text; stderr for the other formats, whose stdout is a document.
                click.echo(shown.out, nl=False, err=not text, color=use_color or None)
                if not auto_approve:
                    _confirm(err=not text)
            if progress is not None and outcome.plan is not None:
                progress.start(outcome.plan.write_count)

        options = core.WriteOptions(
            approve,
            parallelism,
            max_changes,
            progress.result if progress else None,
            progress.progress if progress else None,
            stop,
        )

        def write(run: Callable[..., Outcome], *first: Any) -> Outcome:
            """One product's apply (planned now, or saved), its progress closed whatever happens."""
            try:
                return run(*first, options)
            finally:
                if progress is not None:
                    progress.finish()

        specs = _specs(ctx, paths, run, need_paths=not plan_file)
        if plan_file:
            if paths:
                raise UsageError("give either PATHS or --plan, not both")
            if len(specs) > 1:
                raise UsageError("--plan applies one product's plan: add --only-product NAME")
            saved = core.load_saved(plan_file, "apply", specs[0].ignore_fields)
            if saved.plan is None or saved.error:
                raise UsageError(f"{plan_file} holds no plan to apply: {saved.error or 'invalid'}")
            if text:
                _emit([saved], fmt, use_color)
            outcomes.append(write(core.apply_saved, saved.plan, specs[0]))
        else:
            for spec in specs:
                if stop.is_set:
                    break  # interrupted: no other product is started
                outcomes.append(write(core.apply, spec))
    except Interrupted as exc:
        # A signal raises only before a product's writes start: nothing of it was changed.
        from .outcome import Outcome as Found

        name = specs[len(outcomes)].name if len(outcomes) < len(specs) else ""
        error = f"{exc}; nothing was changed"
        outcomes.append(Found("apply", name, error=error, interrupted=True))
    stop.quiet()  # the report goes out whole, whatever arrives now
    _emit(outcomes, fmt, use_color, results_shown=progress.shown if progress else frozenset())
    if stop.signum is not None:
        return 128 + stop.signum
    if any(o.interrupted for o in outcomes):
        return EXIT_INTERRUPTED  # the prompt, closed with Ctrl-D
    return _code(outcomes)


# Below this many writes a line per job reads better than a bar.
PROGRESS_BAR_FROM = 20


class _Progress:
    """A line per job as it finishes, or on a terminal a bar and the failures after it.

    Results arrive from the worker threads; one lock keeps lines and the count whole.
    """

    def __init__(self, color: bool) -> None:
        from .render.text import Painter

        self.paint = Painter(color)
        self.color = color
        self.lock = threading.Lock()
        self.bar: Any = None
        self.failures: list[Result] = []
        self.shown: frozenset[str] = frozenset()

    def start(self, total: int) -> None:
        if sys.stdout.isatty() and total >= PROGRESS_BAR_FROM:
            self.bar = click.progressbar(length=total, label="Applying", show_pos=True)
            self.bar.__enter__()

    def result(self, result: Result) -> None:
        """A job's final result: a line now, or after the bar for one that is not ok."""
        with self.lock:
            if self.bar is None:
                self._line(result)
            elif not result.ok:
                self.failures.append(result)
            else:
                self.shown |= {result.change.tag}  # the bar counted it

    def progress(self, _: Change) -> None:
        """A write call returned (its result comes after the confirming read)."""
        with self.lock:
            if self.bar is not None:
                self.bar.update(1)

    def finish(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None
            for result in self.failures:
                self._line(result)

    def _line(self, result: Result) -> None:
        from .render.common import result_line

        self.shown |= {result.change.tag}
        head, _, rest = result_line(result).partition(" ")
        style = "green" if result.ok else "red"
        click.echo(f"  {self.paint(head, style)} {rest}", color=self.color or None)


def _confirm(err: bool = False) -> None:
    """Ask on the terminal; ``err``: on standard error (where stdout holds a document)."""
    if not sys.stdin.isatty():
        raise ApplyRefused(
            "refusing to apply without confirmation: no terminal to ask on; "
            "pass --auto-approve to apply from a pipeline"
        )
    try:
        answer = click.prompt(
            "\nApply these changes? Only 'yes' is accepted",
            default="",
            show_default=False,
            err=err,
        )
    except click.exceptions.Abort as exc:  # Ctrl-C (the signal) or Ctrl-D (end of input)
        signum = _stop.signum if _stop is not None and _stop.signum else signal.SIGINT
        why = "Ctrl-D" if _stop is None or _stop.signum is None else None
        raise Interrupted(
            signum, f"interrupted at the prompt ({why or Interrupted(signum).name})"
        ) from exc
    if answer.strip() != "yes":
        raise ApplyRefused("apply cancelled; nothing was changed")


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
    from .core import open_for
    from .export import export_jobs
    from .strings import printable

    options = RunOptions(target=target, product=product, timeout=timeout)
    spec = _specs(ctx, (), options, need_paths=False)[0]
    target_ = open_for(spec)
    try:
        jobs = target_.fetch_jobs()
    finally:
        target_.close()
    written, skipped, warnings = export_jobs(jobs, out, only, exclude, force)
    for bad in jobs.malformed:
        warnings.append(f"live job {bad.tag or bad.id}: cannot be read; skipped: {bad.message}")
    for warning in warnings:
        _err(f"warning: {printable(warning)}")
    click.echo(
        f"Exported {len(written)} job(s) to {out}"
        + (f"; {skipped} left out by --only/--exclude" if skipped else "")
        + f". Check them with: reconciler plan {out}"
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
        from .server.run import serve as run_server
    except ImportError as exc:
        raise UsageError(
            "the server needs starlette and uvicorn: pip install "
            f"'ductape-reconciler[server] @ git+<this repository>' or pip install '.[server]' "
            f"({exc})"
        ) from exc
    run_server(host, port, db, seed, wire=wire, token_ttl=token_ttl)
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
    from . import snapshot as snapshot_file
    from .core import open_for
    from .strings import printable
    from .targets.snapshot import take

    options = RunOptions(target=target, product=product, timeout=timeout)
    target_ = open_for(_specs(ctx, (), options, need_paths=False)[0])
    try:
        document = take(target_)
    finally:
        target_.close()
    snapshot_file.write(out, document)
    click.echo(
        f"Saved a snapshot of product {printable(document['product']['name'])} "
        f"({len(document['jobs'])} job(s)) to {out}; plan against it with: "
        f"reconciler plan --target snapshot:{out} PATHS"
    )
    return EXIT_OK
