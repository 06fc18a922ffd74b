"""``listen``: the reference webhook receiver (``server``) and, with ``--web``, its live page
(``web`` serves it, ``feed`` holds its state, ``poolwatch`` adds the pool's delivery state,
``webpage/`` is the page itself). Imports nothing from ``commands/``, ``pool/`` or ``files/``.
"""
