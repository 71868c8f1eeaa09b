"""The one "did you mean": which known word a mistyped one was probably meant to be.

Every hint in the package (a manifest's field, an event type, a time zone, a setting in
``.reconciler.yaml``, a product, a catalogue entry, a target's scheme) asks :func:`closest`,
so one cut-off decides what counts as close, and a change to it is made once.

Only the choice is returned: a caller quotes it through the escaping of its own output
context (``strings.printable``, a ``Message`` slot), since choices come from outside too (a
live catalogue, a configuration file).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

# 0.75 (difflib's ratio, 2 * matches / total length): "interval" -> "intervals" (0.94),
# "strat_at" -> "start_at" (0.88), "shpo" -> "shop" (0.75) are close; "cron" is not "action"
# (0.6), nor "tag" "target" (0.67). Below it, hints guessed more often than they helped.
CUTOFF = 0.75
# A word longer than this is a pasted blob, not a typo: no hint, and no quadratic compare.
MAX_WORD = 200


def closest(word: object, choices: Iterable[str], n: int = 1) -> list[str]:
    """Up to ``n`` choices ``word`` was probably meant to be, closest first; [] if none.

    Case is the commonest slip, so a choice equal but for case wins outright; otherwise the
    comparison ignores case too, and the choice comes back as it is spelled.
    """
    if not isinstance(word, str) or not 0 < len(word) <= MAX_WORD:
        return []
    folded: dict[str, str] = {}
    for choice in choices:
        folded.setdefault(choice.casefold(), choice)
    key = word.strip().casefold()
    if key in folded:
        return [folded[key]]
    return [folded[m] for m in difflib.get_close_matches(key, list(folded), n=n, cutoff=CUTOFF)]


def hint(word: object, choices: Iterable[str]) -> str | None:
    """The one choice closest to ``word``, or None."""
    found = closest(word, choices)
    return found[0] if found else None
