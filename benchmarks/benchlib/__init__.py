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

import os

# "Now" for every figure, in-process and in every process started (they inherit it): the
# dataset's jobs start on 2026-12-01, so that, a month ahead, no warning about a start in the
# past or a finite job that is over joins the work measured, whatever today's date is.
NOW = "2026-11-01T00:00:00Z"
os.environ["RECONCILER_NOW"] = NOW
