"""The command group and what every command shares: the error handler, the settings it
collects, and the one way reports are printed.

The only place an error becomes a message; a bug prints one line and a crash log.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .. import __version__, process
from ..errors import (
    EXIT_CODES,
    EXIT_CRASH,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    Interrupted,
    ReconcilerError,
)
from .options import RunOptions, color_option

if TYPE_CHECKING:
    from ..outcome import Outcome
    from ..settings import RunSpec

F = TypeVar("F", bound=Callable[..., Any])


def exit_code_epilog() -> str:
    """The help epilog, generated from the one exit-code table in errors.py."""
    lines = ["\b", "Exit codes:"]
    lines += [f"  {code:<4} {meaning}" for code, meaning in EXIT_CODES]
    return "\n".join(lines)


EPILOG = exit_code_epilog()


class Group(click.Group):
    """Usage errors exit 1 (2 means "changes" here); no arguments prints help and exits 0."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        # Called with no arguments: the console script, the process itself; with arguments:
        # a caller running a command in-process (tests), whose exit stays an exception.
        in_process = bool(args) or kwargs.get("args") is not None
        try:
            return self._main(in_process, *args, **kwargs)
        except SystemExit as exc:
            if in_process:
                raise
            process.exit_now(exc.code)

    def _main(self, in_process: bool, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            with process.signals_handled(restore=in_process):
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


def _err(line: str) -> None:
    click.echo(line, err=True)


def handle_errors(func: F) -> F:
    """Expected errors: one line and their exit code. A bug: one line, a crash log, exit 3.
    SIGINT and SIGTERM: "interrupted", exit 130 or 143 (apply reports what it wrote first)."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            if process.current is not None and not getattr(func, "arms_stop", False):
                process.current.arm()
            code = func(*args, **kwargs)
        except ReconcilerError as exc:
            from ..strings import printable

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
                where = f"the traceback is in {process.write_crash_log()}"
            except OSError:
                where = "no crash log could be written"
            _err(
                f"internal error: {type(exc).__name__}: this is a bug in reconciler; "
                f"{where} (please attach it to a bug report)"
            )
            sys.exit(EXIT_CRASH)
        sys.exit(code or EXIT_OK)

    return wrapper  # type: ignore[return-value]


def _arms_stop(func: F) -> F:
    """Mark a command that arms the signal handlers itself, once it can report an interrupt
    in its own format (handle_errors arms them for the others)."""
    func.arms_stop = True  # type: ignore[attr-defined]
    return func


# --- the group ----------------------------------------------------------------------------


@click.group(
    cls=Group,
    epilog=EPILOG,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="reconciler")
@color_option
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
    """One RunSpec per product: what was asked (and where from), resolved by settings."""
    from ..config import load_config
    from ..settings import Asked, resolve

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
        product_parallelism=run.product_parallelism,
    )
    return resolve(load_config(paths), asked, os.environ)


def _emit(
    reports: Sequence[Outcome],
    fmt: str,
    color: bool,
    verbose: bool = False,
    results_shown: frozenset[str] = frozenset(),
    detailed: bool = False,
    plans_shown: frozenset[str] = frozenset(),
) -> int:
    """Render the reports in ``fmt``; their exit code."""
    from ..outcome import exit_code
    from ..render import REPORTER_BY_NAME, Options
    from ..strings import printable

    rendered = REPORTER_BY_NAME[fmt](  # type: ignore[index]
        reports,
        Options(color=color, verbose=verbose, results_shown=results_shown, plans_shown=plans_shown),
    )
    if rendered.err:
        click.echo(rendered.err, nl=False, err=True, color=color or None)
    if fmt != "text":
        # The document on stdout says why; a person reading the log gets the one line too.
        for report in reports:
            if report.error:
                _err(f"error: {printable(report.error)}")
    if rendered.out:
        # click strips ANSI codes when stdout is not a terminal; --color means keep them.
        click.echo(rendered.out, nl=False, color=color or None)
    return exit_code(reports, detailed)
