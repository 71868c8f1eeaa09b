"""The local Ductape-compatible server (``reconciler serve``) over the SQLite store.

``create_app`` builds the Starlette application, ``load_seed`` loads a seed file (format in
``examples/seed.yaml``), ``serve`` runs it all under uvicorn.
"""

from __future__ import annotations

from .app import create_app
from .run import serve
from .seed import SeedInfo, SeedProduct, load_seed

__all__ = ["SeedInfo", "SeedProduct", "create_app", "load_seed", "serve"]
