"""``gluster-eventsapi``: the CLI that manages glustereventsd's webhooks and config on every node.

``__main__`` (entry point; sends the hidden ``node-*`` commands straight to ``pool.node``),
``cli`` (parser and dispatch), ``commands/`` (one function per visible subcommand),
``render`` (tables and JSON text), ``jsonform`` (the JSON rows as data), ``results`` (what
commands return), ``context`` (the outside world of one run), ``credentials`` (secrets read
from stdin), ``errors`` (exit statuses); ``pool/`` (who is in the pool and how each node is
reached), ``files/`` (the cluster files and the TLS and credential files they name),
``listen/`` (the test receiver and its page).
"""
