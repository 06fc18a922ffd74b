"""The pool's delivery state of the registered webhooks, as data (``HookStatusTable``).

One function, ``webhook_status``, serves both ``webhook-status`` (which renders it) and the
page of ``listen --web --pool``, whose watcher is handed it as a callable (``listen/`` may
not import the pool), so both show the same rows from the same fan-out.
"""

from __future__ import annotations

from typing import Union

from gluster_eventsapi.context import Context
from gluster_eventsapi.files import hooks, store
from gluster_eventsapi.pool.run import on_pool
from gluster_eventsapi.results import HookStatusTable, Message

NO_WEBHOOKS = "No webhooks registered. Add one with 'gluster-eventsapi webhook-add URL'."

WebhookStatus = Union[HookStatusTable, Message]


def webhook_status(ctx: Context, url: str | None = None) -> WebhookStatus:
    """Per node and webhook (or only ``url``): queued, delivered, retried, dead letters, ages, last error.

    A ``Message`` when no webhook is registered (nothing to ask the pool); CliError when
    ``url`` is not registered or webhooks.json cannot be read.
    """
    webhooks = store.read_webhooks(ctx.get_paths())
    urls = list(webhooks)
    if url is not None:
        url = url.strip()
        if url not in webhooks:
            raise store.not_registered(url)
        urls = [url]
    if not urls:
        return Message(NO_WEBHOOKS, [])
    rows = on_pool(ctx, "node-webhook-status", {"urls": urls})
    return HookStatusTable(tuple(rows), hooks.insecure_urls(webhooks))
