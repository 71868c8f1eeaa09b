"""The ``reconciler`` command (and ``python -m reconciler``).

``reconciler``, ``reconciler -h`` and ``reconciler --help`` print the top-level help from
``help.txt`` without loading click, which alone takes longer than the goal for the whole
command (issue 18). The file is click's own rendering at the widest layout click uses (a
terminal of 80 columns or more, or a pipe); ``python -m reconciler.cli.helptext`` writes it,
and ``tests/test_cli_help.py`` fails while it differs from what click renders. Anything else,
a narrower terminal included, goes through click.
"""

from __future__ import annotations

import os
import sys

HELP_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "help.txt")
WIDEST_FROM = 80  # click lays help out for min(columns, 80) - 2


def top_help(argv: list[str]) -> str | None:
    """The saved help, when ``argv`` asks the ``reconciler`` script for the top-level help."""
    if os.path.basename(argv[0]) != "reconciler" or argv[1:] not in ([], ["-h"], ["--help"]):
        return None
    if _columns() < WIDEST_FROM:
        return None
    try:
        with open(HELP_FILE, encoding="utf-8") as file:
            return file.read() or None
    except OSError:
        return None


def _columns() -> int:
    """The terminal's width as click's formatter reads it, ``shutil.get_terminal_size`` (whose
    module alone would cost this path a tenth of its time): a positive COLUMNS, else the
    terminal's, else 80."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns > 0:
        return columns
    try:
        columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        columns = 0
    return columns or 80


def run() -> None:
    text = top_help(sys.argv)
    if text is None:
        from .cli import main

        main()
        return
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except OSError as exc:
        sys.stderr.write(f"error: cannot write to standard output: {exc.strerror or exc}\n")
        sys.exit(1)


if __name__ == "__main__":
    run()
