"""The top-level help as click renders it, for ``reconciler/help.txt`` (see
:mod:`reconciler.__main__`): ``python -m reconciler.cli.helptext`` rewrites the file."""

from __future__ import annotations

import click

from .. import __main__ as entry
from .base import main

# What click's formatter uses on a terminal of 80 columns or more, and on a pipe.
WIDTH = entry.WIDEST_FROM - 2


def rendered() -> str:
    settings = {**main.context_settings, "terminal_width": WIDTH}
    with click.Context(main, info_name="reconciler", **settings) as ctx:
        return ctx.get_help() + "\n"


if __name__ == "__main__":
    with open(entry.HELP_FILE, "w", encoding="utf-8") as file:
        file.write(rendered())
