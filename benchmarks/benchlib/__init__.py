"""The parts of the benchmark, one concern each.

- ``dataset``: the synthetic manifests and the live stores that mirror them;
- ``measure``: running commands and timing them, peak memory;
- ``peers``: what reconciler is compared with (the in-process floor, check-jsonschema, deepdiff);
- ``live``: ``reconciler serve`` in a subprocess, a counting proxy with added latency, and the
  measurements over HTTP;
- ``judge``: the targets of the issues as one table, judged on figures from the same run;
- ``table``: the human table and the JSON report.

``benchmarks/run.py`` and ``benchmarks/load.py`` are the entry points.
"""
