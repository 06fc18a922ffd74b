"""The visible subcommands, one function each: ``(args, ctx) -> Result``. Nothing here prints.

Grouped by job: ``webhooks`` (the registered webhooks and NATS sinks), ``config`` (the
cluster-wide settings), ``pool`` (the daemons and the nodes commands run on), ``tools``
(``listen`` and ``emit``, to check the path end to end). These modules never import each
other nor ``render``: what they share lives in ``credentials``, ``pool.run`` and ``files``;
``cli`` dispatches to them and ``render`` shows what they return.
"""
