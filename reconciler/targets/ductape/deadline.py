"""Time limits: the run's budget (``--timeout``) and the total deadline of one request.

Plain Python, no HTTP: the client asks :meth:`RequestDeadlines.left` before each connect,
read and write of a request how long that wait may last.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from ...errors import TargetError


class DeadlineExceeded(TargetError):
    """The run's time limit (``--timeout``) passed; nothing more was started."""


class Budget:
    """The run's time limit, counted from when the target was opened (None: no limit).

    Every request, retry, backoff and wait for a lagging read ends by ``end``.
    """

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds if seconds is not None else None

    def until(self, seconds: float) -> float:
        """The monotonic time ``seconds`` from now, or the run's end if that is sooner."""
        end = time.monotonic() + seconds
        return min(end, self.end) if self.end is not None else end

    def passed(self) -> bool:
        return self.end is not None and time.monotonic() >= self.end

    def exceeded(self, operation: str) -> DeadlineExceeded:
        return DeadlineExceeded(
            f"Ductape {operation}: the run's time limit of {self.seconds:g}s is up"
        )


class RequestDeadlines:
    """The total deadline of the request running on each thread.

    Socket timeouts apply to each operation: a server that sends one byte just before each
    read would hold a request forever. Asked before every wait, this cuts the wait to what
    is left of the request's whole time.
    """

    def __init__(self) -> None:
        self._local = threading.local()

    @contextmanager
    def running(self, end: float) -> Iterator[None]:
        """The request on this thread must be over by the monotonic time ``end``."""
        self._local.end = end
        try:
            yield
        finally:
            self._local.end = None

    def left(self) -> float | None:
        """Seconds left to this thread's request (zero or less: past); None outside one."""
        end: float | None = getattr(self._local, "end", None)
        return None if end is None else end - time.monotonic()
