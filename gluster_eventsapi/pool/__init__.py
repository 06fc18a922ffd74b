"""The pool: who is in it (``peers``), how a command reaches every node (``fanout``, ``run``),
each node's own part of it (``node``, ``service``), and the pool's delivery state (``hookstatus``).
"""
