"""The files the CLI keeps and syncs: webhooks.json, config.json and peers.json (``store``),
a webhook entry's settings (``hooks``) and the TLS and NATS credential files it names (``tlsfiles``).
"""
