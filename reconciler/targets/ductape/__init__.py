"""The Ductape target: a product's jobs over Ductape's HTTP wire (docs/wire.md).

In small rooms, each leaning only on the ones before it:

- ``deadline``: the run's time budget and the total deadline of one request, no HTTP;
- ``client``: the httpx session (the project's one httpx user), bounded retries chosen by
  parameters, the response envelope, errors as the project's own classes;
- ``auth``: the credentials, and the log-in shared by every target of the same ones;
- ``jobs``: the Target itself: read, create, update, confirm, catalogue, snapshot.

Secrets (the private key, the auth token, the product's own keys) are sent where the wire
needs them and never kept in messages, reprs or logs.
"""

from __future__ import annotations

from .auth import Credentials
from .client import MAX_ANSWER_BYTES, RetryPolicy
from .deadline import DeadlineExceeded
from .jobs import DuctapeTarget

__all__ = ["MAX_ANSWER_BYTES", "Credentials", "DeadlineExceeded", "DuctapeTarget", "RetryPolicy"]
