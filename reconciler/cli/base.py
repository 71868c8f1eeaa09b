"""The command group, and what every command gets: its settings collected from click, and an
:class:`Output` that prints its report and returns the exit code.

Errors become messages in one place, :func:`reconciler.process.handle_errors`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .. import __version__, process
from ..errors import EXIT_CODES, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, Interrupted, OutputError
from .options import FORMATS, REPORT_FORMATS, color_option, combined, format_option

if TYPE_CHECKING:
    from ..outcome import Outcome
    from ..render import Rendered
    from ..settings import RunSpec

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

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


@dataclass
class Output:
    """A command's settings (from its options, their sources and the environment) and where
    its results go: the format, colours, how much to show. Printing is :mod:`..render.console`'s."""

    ctx: click.Context
    fmt: str = "text"
    color: bool = False
    detailed: bool = False  # --detailed-exitcode
    shown: dict[str, Any] = field(default_factory=dict)  # -v, -q

    def specs(
        self, paths: tuple[str, ...] = (), run: Mapping[str, Any] | None = None, need: bool = True
    ) -> list[RunSpec]:
        """One RunSpec per product: what was asked (and where from), resolved by settings."""
        from ..settings import from_command_line

        def source(name: str) -> str | None:
            found = self.ctx.get_parameter_source(name)
            return found.name if found is not None else None

        return from_command_line(self.ctx.info_name or "", paths, run or {}, source, need)

    def waited(self, specs: Sequence[RunSpec], work: Callable[..., T], *args: Any) -> T:
        """``work(*args)``, with a line on a terminal if a target has not answered in 2 s."""
        from ..render.console import waiting

        with waiting(specs, lambda line: click.echo(line, err=True)):
            return work(*args)

    def echo(self, rendered: Rendered) -> int:
        write(rendered.err, self.color, err=True)
        write(rendered.out, self.color)
        return EXIT_OK

    def emit(
        self,
        reports: Sequence[Outcome],
        after: Callable[[Sequence[Outcome]], Rendered] | None = None,
        **shown: Any,
    ) -> int:
        """Print the reports, then what ``after`` renders of them; their exit code. From now
        on a signal only sets the stop: the report goes out whole."""
        from ..render.console import printed

        if process.current is not None:
            process.current.quiet()
        shown = {**self.shown, **shown}
        err, out, code = printed(reports, self.fmt, self.color, self.detailed, shown)
        write(err, self.color, err=True)
        for piece in out:
            write(piece, self.color)
        if after is not None:
            self.echo(after(reports))
        return code


def reporting(
    *options: Callable[[F], F], formats: Sequence[str] = FORMATS, help: str = REPORT_FORMATS
) -> Callable[[F], F]:
    """A command: ``options``, then --format and --color (unless ``formats`` is empty); it
    gets an :class:`Output` first, and returns the exit code (errors: handle_errors)."""
    from ..process import handle_errors

    def decorate(func: F) -> F:
        @wraps(func)
        def wrapper(ctx: click.Context, /, **kwargs: Any) -> Any:
            from ..render.console import interrupted, shown_from, use_color

            fmt, color = kwargs.pop("fmt", "text"), kwargs.pop("color", None)
            colored = use_color(color, (ctx.obj or {}).get("color"))
            detailed = kwargs.pop("detailed_exitcode", False)
            output = Output(ctx, fmt, colored, detailed, shown_from(kwargs))
            try:
                return func(output, **kwargs)
            except Interrupted as exc:
                # A document still goes out in json, markdown and github: a pipeline reads
                # why (text says "interrupted", as every other command does).
                return output.emit(interrupted(ctx.info_name or "", fmt, exc))

        decorated: Any = click.pass_context(handle_errors(wrapper))
        printing = (format_option(*formats, help=help), color_option) if formats else ()
        return main.command(epilog=EPILOG)(combined(*options, *printing)(decorated))  # type: ignore[return-value]

    return decorate
