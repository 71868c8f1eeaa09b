"""Helpers the tests share (as pre-commit keeps its own in testing/): the installed script
and a clean environment (process), a real local server (server), hostile servers and
proxies on raw sockets (wire), and one way to invoke the CLI in-process (cli).
"""
