"""The command group, and what every command shares: its settings and its printing.

Errors become messages in one place, :func:`reconciler.process.handle_errors`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .. import __version__, process
from ..errors import (
    EXIT_CODES,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    Interrupted,
    OutputError,
    UsageError,
)
from .options import FORMATS, REPORT_FORMATS, color_option, format_option

if TYPE_CHECKING:
    from ..outcome import Outcome
    from ..render import Rendered
    from ..settings import RunSpec

F = TypeVar("F", bound=Callable[..., Any])

# The help epilog, from the one exit-code table in errors.py.
EPILOG = "\n".join(["\b", "Exit codes:", *(f"  {code:<4} {what}" for code, what in EXIT_CODES)])


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
        except (click.exceptions.Abort, Interrupted) as exc:  # a signal before a command ran
            click.echo("interrupted", err=True)
            sys.exit(getattr(exc, "exit_code", EXIT_INTERRUPTED))
        except click.ClickException as exc:  # usage errors included
            exc.show()
            sys.exit(EXIT_ERROR)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)


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
    Settings: flag > environment variable > .reconciler.yaml > default. The variables:
    RECONCILER_TARGET, DUCTAPE_PRODUCT, the DUCTAPE_* credentials, RECONCILER_ALLOWED_TARGETS,
    RECONCILER_MAX_AGE, NO_COLOR (see each command's --help).
    """
    ctx.obj = {"color": color}


def use_color(ctx: click.Context, local: bool | None) -> bool:
    choice = local if local is not None else (ctx.obj or {}).get("color")
    if choice is None:
        return sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    return bool(choice)


def specs(
    ctx: click.Context,
    paths: tuple[str, ...],
    run: Mapping[str, Any] | None = None,
    need_paths: bool = True,
) -> list[RunSpec]:
    """One RunSpec per product: what was asked (and where from), resolved by settings."""
    from ..config import load_config
    from ..settings import Asked, resolve

    def given(name: str, *sources: str) -> bool:
        source = ctx.get_parameter_source(name)
        return source is not None and source.name in sources

    asked = Asked(
        command=ctx.info_name or "",
        paths=paths,
        target_given=given("target", "COMMANDLINE", "ENVIRONMENT"),
        target_from_env=given("target", "ENVIRONMENT"),
        product_from_flag=given("product", "COMMANDLINE"),
        need_paths=need_paths,
        **(run or {}),
    )
    return resolve(load_config(paths), asked, os.environ)


def write(text: str, color: bool, err: bool = False) -> None:
    """``text`` as it is; click strips ANSI codes off a pipe unless --color. A stream that
    cannot take it (a full disk, a reader gone) is one error line, not a crash."""
    if not text:
        return
    try:
        click.echo(text, nl=False, err=err, color=color or None)
        (sys.stderr if err else sys.stdout).flush()
    except OSError as exc:
        where = "standard error" if err else "standard output"
        raise OutputError(f"cannot write to {where}: {exc.strerror or exc}") from None


def echo(rendered: Rendered, color: bool = False) -> None:
    """stderr first, then stdout; click strips ANSI codes off a pipe unless --color."""
    write(rendered.err, color, err=True)
    write(rendered.out, color)


@dataclass
class Output:
    """Where a command's results go: the format, colours, and how much to show."""

    ctx: click.Context
    fmt: str = "text"
    color: bool = False
    detailed: bool = False  # --detailed-exitcode
    shown: dict[str, Any] = field(default_factory=dict)  # -v, -q

    def specs(
        self, paths: tuple[str, ...], run: Mapping[str, Any] | None = None, need: bool = True
    ) -> list[RunSpec]:
        return specs(self.ctx, paths, run, need)

    def echo(self, rendered: Rendered) -> None:
        echo(rendered, self.color)

    def interrupted(self, exc: Interrupted) -> int:
        """The command's report of a signal that came before it could report (apply reports
        its own); in the text format, the one line handle_errors prints."""
        from ..outcome import REPORT_BY_COMMAND

        kind = REPORT_BY_COMMAND.get(self.ctx.info_name or "")  # type: ignore[call-overload]
        if self.fmt == "text" or kind is None:
            raise exc
        error = f"{exc}; nothing was changed"
        return self.emit([kind(error=error, interrupted=exc.signum)])

    def emit(self, reports: Sequence[Outcome], **shown: Any) -> int:
        """Print the reports; their exit code. A signal from now on only sets the stop: the
        report goes out whole."""
        from ..outcome import exit_code
        from ..render import Options
        from ..render.console import streamed

        if process.current is not None:
            process.current.quiet()
        options = Options(color=self.color, **self.shown, **shown)
        err, out = streamed(reports, self.fmt, options)  # type: ignore[arg-type]
        write(err, self.color, err=True)
        for piece in out:
            write(piece, self.color)
        return exit_code(reports, self.detailed)


def reporting(
    *options: Callable[[F], F], formats: Sequence[str] = FORMATS, help: str = REPORT_FORMATS
) -> Callable[[F], F]:
    """A command that reports: ``options``, then --format and --color; the command gets an
    :class:`Output` first, and its return value is the exit code (errors: handle_errors)."""
    from ..process import handle_errors

    def decorate(func: F) -> F:
        @wraps(func)
        def wrapper(ctx: click.Context, /, fmt: str, color: bool | None, **kwargs: Any) -> Any:
            detailed = kwargs.pop("detailed_exitcode", False)
            shown: dict[str, Any] = {n: kwargs.pop(n) for n in ("verbose", "quiet") if n in kwargs}
            if shown.get("verbose") and shown.get("quiet"):
                raise UsageError("-v lists more and -q less: give one of them")
            output = Output(ctx, fmt, use_color(ctx, color), detailed, shown)
            try:
                return func(output, **kwargs)
            except Interrupted as exc:
                # A document still goes out in json, markdown and github: a pipeline reads
                # why (text says "interrupted", as every other command does).
                return output.interrupted(exc)

        decorated: Any = click.pass_context(handle_errors(wrapper))
        stack: list[Callable[[Any], Any]] = [*options, format_option(*formats, help=help)]
        for option in reversed([*stack, color_option]):
            decorated = option(decorated)
        return main.command(epilog=EPILOG)(decorated)  # type: ignore[return-value]

    return decorate
