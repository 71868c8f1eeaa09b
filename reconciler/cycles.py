"""The cycle collector paused around work that allocates much and leaves no cycles.

Reading manifests and live jobs, planning and the schedule's figures allocate millions of
objects that all live until the plan is made, or die by reference counting: none is garbage
only a cycle search finds. The collector would walk the growing heap again and again for
nothing (a tenth of a 10,000-job plan's CPU; peak memory the same).

The pause is counted, not nested by hand: products are planned in threads, and the collector
is turned back on (if it was on before the first pause) only when the last pause ends, never
while another thread is still inside one.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_holders = 0
_was_enabled = False


@contextmanager
def paused() -> Iterator[None]:
    global _holders, _was_enabled
    with _lock:
        if _holders == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _was_enabled:
                gc.enable()
