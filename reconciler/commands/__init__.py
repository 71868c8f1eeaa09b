"""One module per command: settings in, typed reports out; nothing here prints.

How a command runs: ``cli`` parses the options into :class:`~reconciler.settings.Asked`;
:func:`reconciler.settings.resolve` turns them, the environment and ``.reconciler.yaml`` into
one :class:`~reconciler.settings.RunSpec` per product; the command's ``run`` reads the
manifests, opens the target once (``with opened(spec) as target``), reads it, compares
(:mod:`.common`) and returns one report per product (:mod:`reconciler.outcome`); ``cli`` hands
the reports to the reporter of the chosen format and exits with their exit code.
"""
