"""The command line (click): options in, one command call, a report and an exit code out.

- :mod:`.options`: the options the commands share, declared once;
- :mod:`.base`: the group, the one error handler, settings collection, report printing;
- :mod:`.commands`: one function per verb, each a call into :mod:`reconciler.commands`.

Nothing here decides precedence (``settings.resolve``), approval (``commands.apply``) or a
file's format (``planfile``, ``snapshot``).
"""

from __future__ import annotations

from .commands import main

__all__ = ["main"]
