"""Settings and destinations from files: the option table (``options``), last good copies (``lastgood``), the node id (``nodeid``)."""
