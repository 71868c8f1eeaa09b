"""The one clock: every "now" the reconciler uses comes from :func:`now_ms`.

Plans, previews and schedule warnings depend on the time ("all runs are over", "next: ...").
To make a run reproducible (a test, a review of yesterday's plan, a report rebuilt in CI), set
``RECONCILER_NOW`` to Unix milliseconds or an ISO-8601 time with a zone
(``2027-01-01T00:00:00Z``); otherwise it is the system clock. Nothing else in the package reads
the wall clock for a decision a user sees.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone

from .errors import UsageError

ENV_NOW = "RECONCILER_NOW"


def now_ms() -> int:
    """Now, in Unix milliseconds: ``RECONCILER_NOW`` when set, else the system clock."""
    pinned = os.environ.get(ENV_NOW)
    if pinned is None or not pinned.strip():
        return int(time.time() * 1000)
    return parse_now(pinned)


def parse_now(text: str) -> int:
    """``RECONCILER_NOW``'s value as milliseconds; a UsageError naming it when it is not one."""
    value = text.strip()
    if value.isdigit() and len(value) <= 15:
        return int(value)
    iso = value[:-1] + "+00:00" if value[-1:] in "Zz" else value
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or len(value) > 40:
        raise UsageError(
            f"{ENV_NOW}={value[:40]!r} is not a time: give Unix milliseconds or ISO-8601 "
            "with a zone, such as 2027-01-01T00:00:00Z"
        )
    return int(moment.astimezone(timezone.utc).timestamp() * 1000)
