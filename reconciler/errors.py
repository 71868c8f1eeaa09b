"""Expected errors of the reconciler, and the exit codes every command shares.

Every error a user can cause or meet (bad manifests, an unreachable target, a refused
credential, a stale saved plan) is a :class:`ReconcilerError`. The CLI catches exactly this
base class, prints ``error: <message>`` on one line and exits with the error's code. Any other
exception is a bug: one line points at a crash log holding the traceback, and the exit code
is :data:`EXIT_CRASH`, so a pipeline never mistakes a bug for invalid manifests.

:data:`EXIT_CODES` is the one table of exit codes: the CLI's help epilog is generated from it
and a test checks the README's table against it.
"""

from __future__ import annotations

import threading

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
EXIT_CRASH = 3
# A signal's exit code is 128 + its number, as a shell reports a process killed by it.
EXIT_INTERRUPTED = 130  # SIGINT (2)
EXIT_TERMINATED = 143  # SIGTERM (15)

# (code, meaning): the help epilog and the README show exactly these lines.
EXIT_CODES: tuple[tuple[int, str], ...] = (
    (EXIT_OK, "success; plan --detailed-exitcode and drift: no changes"),
    (
        EXIT_ERROR,
        "error: invalid manifests or options, a target or credential problem, "
        "a failed or unknown write, a stale or unapproved apply",
    ),
    (EXIT_CHANGES, "plan --detailed-exitcode: changes to apply; drift: drift found"),
    (EXIT_CRASH, "a bug in reconciler: the traceback is in the crash log it names"),
    (EXIT_INTERRUPTED, "interrupted (SIGINT, Ctrl-C); what was written is reported"),
    (
        EXIT_TERMINATED,
        "terminated (SIGTERM, as CI runners, Kubernetes and timeout send); "
        "what was written is reported",
    ),
)


class ReconcilerError(Exception):
    """Base of every expected error; its message is one line meant for a person."""

    exit_code = EXIT_ERROR


class UsageError(ReconcilerError):
    """The command line or configuration asks for something that cannot work."""


class OutputError(ReconcilerError):
    """Standard output could not take the report (a full disk, a reader that went away)."""


class TargetError(ReconcilerError):
    """The target (SQLite store or Ductape API) could not do what was asked."""


class AuthError(TargetError):
    """The target refused the credentials."""


class JobExists(TargetError):
    """A create named a tag the product already holds."""


class OutcomeUnknown(TargetError):
    """A write may or may not have landed; re-run plan to see. Never retried blindly."""


class StalePlanError(ReconcilerError):
    """A saved plan no longer matches the live jobs it was made against."""


class TooMuchChange(ReconcilerError):
    """A run would write more jobs than ``--max-changes`` allows; nothing was changed."""


class ApplyRefused(ReconcilerError):
    """Apply was not approved (no terminal and no --auto-approve, or a 'no')."""


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM (or an interrupted prompt): stop, report, exit 128 + the signal.

    A KeyboardInterrupt, so code that already stops cleanly on Ctrl-C stops on SIGTERM too.
    """

    def __init__(self, signum: int = 2, what: str = "") -> None:
        self.signum = signum
        self.name = {2: "SIGINT", 15: "SIGTERM"}.get(signum, f"signal {signum}")
        super().__init__(what or f"interrupted ({self.name})")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class Stop:
    """The one request to stop a run, set by the first SIGINT or SIGTERM (install it with
    ``signal.signal``, in the main thread).

    Once armed and until ``quiet()``, the signal raises :class:`Interrupted` in the main
    thread: nothing is written yet, so what that thread was doing (reading the target, the
    prompt) can be dropped. From ``quiet()`` on (apply_plan calls it as its writes start)
    the signal only sets ``event``; the waiting thread sees it within a poll. Later signals
    change nothing: the run is already stopping, within a bounded grace.
    """

    def __init__(self, *, raising: bool = True) -> None:
        self.event = threading.Event()
        self.signum: int | None = None
        self._raising = raising

    def __call__(self, signum: int, frame: object = None) -> None:
        if self.signum is not None:
            return
        self.signum = signum
        self.event.set()
        if self._raising:
            raise Interrupted(signum)

    def quiet(self) -> None:
        """From now on a signal only sets the event (it never raises)."""
        self._raising = False

    def arm(self) -> None:
        """Let signals raise from now on; one that came before (while modules loaded, say:
        an import cut short stays broken for the rest of the process) raises now."""
        self._raising = True
        if self.signum is not None:
            raise Interrupted(self.signum)

    @property
    def is_set(self) -> bool:
        return self.event.is_set()
