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

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
EXIT_CRASH = 3
EXIT_INTERRUPTED = 130

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
    (EXIT_INTERRUPTED, "interrupted (Ctrl-C); what was written is reported"),
)


class ReconcilerError(Exception):
    """Base of every expected error; its message is one line meant for a person."""

    exit_code = EXIT_ERROR


class UsageError(ReconcilerError):
    """The command line or configuration asks for something that cannot work."""


class ManifestError(ReconcilerError):
    """One or more manifests are invalid; ``problems`` holds every one found."""

    def __init__(self, message: str, problems: tuple[object, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems


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


class ApplyRefused(ReconcilerError):
    """Apply was not approved (no terminal and no --auto-approve, or a 'no')."""
