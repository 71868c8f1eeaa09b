"""The process around a command: the one error handler, signals, the crash log, a prompt exit.

SIGINT and SIGTERM are handled alike while a command runs (see :class:`~reconciler.errors.Stop`):
nothing new is written after the first, what was written is reported, and the exit code is
128 + the signal. The command line (``cli``) enters :func:`signals_handled` and arms the stop
once the command can report an interrupt in its own format.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, TypeVar

from . import __version__
from .errors import (
    EXIT_CRASH,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    Interrupted,
    ReconcilerError,
    Stop,
)

F = TypeVar("F", bound=Callable[..., Any])

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# The run's one stop request, driven by SIGINT and SIGTERM while a command runs.
current: Stop | None = None


@contextmanager
def signals_handled(restore: bool) -> Iterator[Stop]:
    """SIGINT and SIGTERM handled alike while the command runs.

    The process itself (``restore`` False) keeps the handler to its end, quiet once the
    command is done: a signal while the process exits changes nothing, where the default
    action would kill it (SIGTERM) or print a traceback (SIGINT). A caller running commands
    in-process (tests) gets its own handlers back.
    """
    global current
    stop = Stop(raising=False)  # armed by the command, once it can report
    main_thread = threading.current_thread() is threading.main_thread()
    previous = [signal.signal(s, stop) for s in _SIGNALS] if main_thread else []
    current = stop
    try:
        yield stop
    finally:
        stop.quiet()
        if restore:
            current = None
            for signum, handler in zip(_SIGNALS, previous, strict=False):
                signal.signal(signum, handler)


def load_for_apply() -> None:
    """Import what apply loads lazily, and its report needs even after an interrupt: a
    module whose import a signal cut short stays broken for the rest of the process."""
    from .commands import apply  # noqa: F401
    from .render import github, jsonfmt, markdown, progress, text  # noqa: F401
    from .targets import ductape  # noqa: F401


def exit_now(code: object) -> None:
    """End the process once its report is out, skipping the interpreter's shutdown: that
    shutdown puts the default signal handlers back and takes a while (half a second with
    the libraries loaded), so a SIGTERM then killed a run whose report was already printed.
    Daemon threads still in a hung request end with the process."""
    status = code if isinstance(code, int) else (0 if code is None else EXIT_ERROR)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more to say
            stream.flush()
    os._exit(status)


def write_crash_log() -> str:
    """The current exception's traceback in a new file of its own; its path.

    A fixed name in the shared temp directory could be a link planted by another user, or be
    read by one: mkstemp creates a fresh file (O_EXCL, mode 0600) that no link can redirect.
    """
    import tempfile
    import traceback

    handle, path = tempfile.mkstemp(prefix="reconciler-crash-", suffix=".log")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(f"reconciler {__version__}, python {sys.version}\n")
        out.write(f"argv: {sys.argv!r}\n\n")
        traceback.print_exc(file=out)
    return path


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def handle_errors(func: F) -> F:
    """The only place an error becomes a message. Expected errors: one line and their exit
    code. A bug: one line, a crash log, exit 3. SIGINT and SIGTERM: "interrupted", exit 130 or
    143 (apply reports what it wrote first). The command's return value is the exit code.
    """

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            if current is not None and not getattr(func, "arms_stop", False):
                current.arm()
            code = func(*args, **kwargs)
        except ReconcilerError as exc:
            from .strings import printable

            _say(f"error: {printable(str(exc))}")
            sys.exit(exc.exit_code)
        except Interrupted as exc:
            _say("interrupted")
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            _say("interrupted")
            sys.exit(EXIT_INTERRUPTED)
        except Exception as exc:
            try:
                where = f"the traceback is in {write_crash_log()}"
            except OSError:
                where = "no crash log could be written"
            _say(
                f"internal error: {type(exc).__name__}: this is a bug in reconciler; "
                f"{where} (please attach it to a bug report)"
            )
            sys.exit(EXIT_CRASH)
        sys.exit(code or EXIT_OK)

    return wrapper  # type: ignore[return-value]


def arms_stop(func: F) -> F:
    """Mark a command that arms the signal handlers itself, once it can report an interrupt
    in its own format (handle_errors arms them for the others)."""
    func.arms_stop = True  # type: ignore[attr-defined]
    return func
