"""The process: start-up, reload and shutdown (``daemon``), the status file (``runstate``), ``--reload`` (``reloader``), the file watch (``watch``), the metrics endpoint (``metrics``)."""
