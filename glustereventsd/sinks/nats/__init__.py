"""NATS JetStream sinks: URLs (``url``), credential files (``creds``), the client (``client``), PubAcks (``ack``), the driver (``driver``) and streams (``stream``, for ``nats-stream-add``)."""
