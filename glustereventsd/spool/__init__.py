"""The spool: every undelivered event of every sink, in one SQLite file, and what reads and repairs it.

- ``schema``: the tables, described once (the CREATE statements and recovery's shapes);
- ``records``: the types the stages hand each other (``Record``, ``NewEvent``, ``HookCounters``);
- ``db``: opening the file, transactions, telling a damaged file (``is_corruption``);
- ``writer``: ``SpoolWriter``, the one writer (the pipeline's committer);
- ``reader``: ``SpoolReader`` and ``ReaderHandoff``, for the delivery loops and the metrics;
- ``acks``: delivery results on their way back to the writer;
- ``admin``: the CLI's queries (``webhook-status``, ``webhook-redeliver``);
- ``startup``: ``open_spool``, the daemon's way in at start;
- ``salvage``: recovering a damaged spool, with ``pagescan`` reading one without SQLite.
"""
