"""``reconciler serve``: open the store, load the seed, print how to connect, run uvicorn."""

from __future__ import annotations

import logging
import sys

import uvicorn

from ..targets.local import DEFAULT_PATH, Store
from .app import create_app
from .seed import SeedInfo, load_seed

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787


def connection_lines(base_url: str, info: SeedInfo | None) -> list[str]:
    """What a client needs, as shell lines; the private key is pointed at, never printed."""
    # RECONCILER_TARGET is what --target reads, so the exports alone point the CLI here.
    lines = [f"# Ductape-compatible server on {base_url}", f"export RECONCILER_TARGET={base_url}"]
    if info is None:
        lines.append("# no seed loaded: no user can log in until one is")
        return lines
    lines += [
        f"export DUCTAPE_USER_ID={info.user_id}",
        f"export DUCTAPE_WORKSPACE_ID={info.workspace_id}",
    ]
    if info.products:
        lines.append(f"export DUCTAPE_PRODUCT={info.products[0].name}")
    lines.append(f"# DUCTAPE_PRIVATE_KEY: the user.private_key in {info.path} (not printed)")
    return lines


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    db: str = DEFAULT_PATH,
    seed: str | None = None,
) -> None:
    """Serve the store at ``db`` on host:port until interrupted, after loading ``seed``."""
    store = Store(db)
    try:
        info = load_seed(store, seed) if seed else None
        shown = f"[{host}]" if ":" in host else host
        for line in connection_lines(f"http://{shown}:{port}", info):
            print(line)
        sys.stdout.flush()
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        # access_log off: uvicorn's line carries the query string, where public_key travels.
        uvicorn.run(create_app(store), host=host, port=port, access_log=False)
    finally:
        store.close()
