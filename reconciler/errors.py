"""Expected errors of the reconciler, and the exit codes they map to.

Every error a user can cause or meet (bad manifests, an unreachable target, a refused
credential, a stale saved plan) is a :class:`ReconcilerError`. The CLI catches exactly this
base class, prints ``error: <message>`` on one line and exits with the error's code. Any other
exception is a bug and keeps its traceback.

Exit codes, shared by every command:

====  ==========================================================================
0     success; with ``plan --detailed-exitcode``: success and no changes
1     an error: invalid manifests, a target or credential problem, a job that
      failed to apply, a refused or stale saved plan, an unapproved apply
2     ``plan --detailed-exitcode`` only: success, and there are changes to apply
130   interrupted (Ctrl-C)
====  ==========================================================================
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
EXIT_INTERRUPTED = 130


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


class StalePlanError(ReconcilerError):
    """A saved plan no longer matches the live jobs it was made against."""


class ApplyRefused(ReconcilerError):
    """Apply was not approved (no terminal and no --auto-approve, or a 'no')."""
