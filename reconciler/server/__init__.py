"""The local Ductape-compatible server (``reconciler serve``)."""
