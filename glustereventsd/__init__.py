"""glustereventsd: receives Gluster event datagrams and delivers them to webhooks."""

__version__ = "1.0.0"
