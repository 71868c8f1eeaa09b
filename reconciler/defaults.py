"""Defaults that the CLI's help and the modules that use them share.

Kept in a module with no imports, so ``reconciler --help`` shows them without importing
httpx, the server or the apply machinery.
"""

from __future__ import annotations

# How many jobs apply writes at once.
DEFAULT_PARALLELISM = 4
# Products read and planned side by side (products: in .reconciler.yaml): mostly waiting on
# the network, so more than the cores; few enough to stay polite to one account.
DEFAULT_PRODUCT_PARALLELISM = 8
# Where `reconciler serve` listens, and the store it serves.
DEFAULT_PORT = 8080
DEFAULT_DB = ".reconciler/server.db"
# Seconds a whole run against a target may take (reads, writes, retries), then it stops.
DEFAULT_TIMEOUT = 300.0
