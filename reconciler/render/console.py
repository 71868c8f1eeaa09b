"""What the command line prints besides a report: the stalled-target notice, the plan shown
for approval, the schedule pictures and the one-line results of export, snapshot, schema and
``drift --write``. The CLI only echoes what these return.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..errors import Interrupted, UsageError
from ..outcome import REPORT_BY_COMMAND, Outcome, exit_code
from ..strings import printable
from . import REPORTER_BY_NAME, Format, Options, Rendered

if TYPE_CHECKING:
    from ..accept import Accepted, Written
    from ..commands.export import Exported
    from ..commands.schedule import Schedule
    from ..settings import RunSpec

# A read from a stalled server shows nothing until its retries give up (the HTTP target's
# retry budget, 60 s, or --timeout if shorter): on a terminal, say so after this long.
WAIT_NOTICE_AFTER = 2.0
RETRY_BUDGET = 60.0


def use_color(choice: bool | None, group: bool | None = None) -> bool:
    """--color/--no-color (the command's, else the group's); by default on a terminal,
    unless NO_COLOR is set."""
    chosen = choice if choice is not None else group
    if chosen is None:
        return sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    return bool(chosen)


def shown_from(options: dict[str, Any]) -> dict[str, Any]:
    """-v and -q, taken out of a command's options (given both: a usage error)."""
    shown: dict[str, Any] = {n: options.pop(n) for n in ("verbose", "quiet") if n in options}
    if shown.get("verbose") and shown.get("quiet"):
        raise UsageError("-v lists more and -q less: give one of them")
    return shown


def printed(
    reports: Sequence[Outcome], fmt: str, color: bool, detailed: bool, shown: dict[str, Any]
) -> tuple[str, Iterable[str], int]:
    """The reports as :func:`streamed` prints them, and their exit code."""
    err, out = streamed(reports, fmt, Options(color=color, **shown))  # type: ignore[arg-type]
    return err, out, exit_code(reports, detailed)


def interrupted(command: str, fmt: str, exc: Interrupted) -> list[Outcome]:
    """The command's report of a signal that came before it could report (apply reports its
    own); in the text format, the one line handle_errors prints (``exc`` raised again)."""
    kind = REPORT_BY_COMMAND.get(command)  # type: ignore[call-overload]
    if fmt == "text" or kind is None:
        raise exc
    return [kind(error=f"{exc}; nothing was changed", interrupted=exc.signum)]


def streamed(
    reports: Sequence[Outcome], fmt: Format, options: Options
) -> tuple[str, Iterable[str]]:
    """The reports in ``fmt``: standard error whole, standard output in pieces (the text
    format makes its lines as they are written, 1,000 to a piece; the others are one
    document). A document on stdout says why a run failed; a person reading the log gets
    the one ``error:`` line on stderr too."""
    if fmt == "text":
        from .text import stream

        err, lines = stream(reports, options)
        return err, _batched(lines, 1000)
    rendered = REPORTER_BY_NAME[fmt](reports, options)
    errors = "".join(f"error: {printable(r.error)}\n" for r in reports if r.error)
    return rendered.err + errors, [rendered.out]


def for_approval(plan: Outcome, text: bool, color: bool) -> Rendered:
    """The plan apply asks about: on stdout in the text format; on stderr in the others,
    whose stdout is the document."""
    shown = REPORTER_BY_NAME["text"]([plan], Options(color=color))
    return shown if text else Rendered("", shown.err + shown.out)


@contextmanager
def waiting(specs: Sequence[RunSpec], say: Callable[[str], Any]) -> Iterator[Callable[[], None]]:
    """On a terminal, one line if the HTTP target has not answered in 2 s.

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
    timer = threading.Timer(WAIT_NOTICE_AFTER, say, (line,))
    timer.daemon = True
    timer.start()
    try:
        yield timer.cancel
    finally:
        timer.cancel()


def schedules(found: Sequence[Schedule], fmt: str, color: bool) -> Rendered:
    from . import timeline as pictures

    out, err = [], []
    for one in found:
        if fmt == "json":
            out.append(pictures.json_text(one.impact))
        elif fmt == "markdown":
            out.append(pictures.markdown(one.impact))
        elif fmt == "svg":
            out.append(pictures.svg(one.impact))
        else:
            out.append(pictures.text(one.impact, color))
            if one.impact.spread is not None:
                out.append(pictures.spread_text(one.impact.spread))
        if one.written is not None:
            err.append(f"Wrote the proposed start_at values into {len(one.written.edited)} file(s)")
    return Rendered(_lines(out), _lines(err))


def accepted(done: Sequence[tuple[Accepted, Written]]) -> Rendered:
    err = []
    for change, written in done:
        err.append(
            f"Accepted live changes: {change.summary()}; wrote {len(written.edited)} file(s)"
        )
        err += [f"  added {printable(path)}" for path in written.added]
    return Rendered("", _lines(err))


def exported(done: Exported) -> Rendered:
    left = f"; {done.left_out} left out by --only/--exclude" if done.left_out else ""
    out = [
        f"Exported {len(done.written)} job(s) to {printable(done.out)}{left}. "
        f"Check them with: reconciler plan {printable(done.out)}"
    ]
    err = [f"warning: {printable(warning)}" for warning in done.warnings]
    if done.written and done.schema is None:
        err.append(
            "note: no schema modeline was written (no schemas/job.schema.json in the "
            "repository); add one with: reconciler schema --write schemas"
        )
    return Rendered(_lines(out), _lines(err))


def snapshot_saved(document: dict[str, Any], out: str) -> Rendered:
    return Rendered(
        f"Saved a snapshot of product {printable(document['product']['name'])} "
        f"({len(document['jobs'])} job(s)) to {printable(out)}; plan against it with: "
        f"reconciler plan --target snapshot:{printable(out)} PATHS\n"
    )


def save_plan(plan: Outcome, out: str) -> Rendered:
    """Save the plan as ``plan --format json`` prints it, for ``apply --plan`` (a plan that
    failed is not saved)."""
    from ..planfile import save

    if plan.plan is None or plan.failed:
        return Rendered()
    from .jsonfmt import document

    save(out, document(plan))
    where = printable(out)
    return Rendered(
        "", f"Saved the plan to {where}; apply it with: reconciler apply --plan {where}\n"
    )


def schema_written(text: str, path: str | None) -> Rendered:
    """The schema itself, or where ``schema --write`` kept it."""
    return Rendered(f"Wrote the job schema to {printable(path)}\n" if path else text)


def _lines(lines: Sequence[str]) -> str:
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _batched(pieces: Iterable[str], size: int) -> Iterator[str]:
    """The pieces joined ``size`` at a time: few writes, and never the whole output held."""
    batch: list[str] = []
    for piece in pieces:
        batch.append(piece)
        if len(batch) >= size:
            yield "".join(batch)
            batch = []
    if batch:
        yield "".join(batch)
