"""The pipeline thread and what it drives: each turn's commit (``commit``), the destinations in force and their drivers (``supervisor``)."""
