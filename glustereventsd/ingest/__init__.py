"""Datagrams to events ready to spool: ``parse`` (the wire format), ``enrich`` (names, the JSON body), ``eventlog`` (events.log), ``batch`` (a turn's worth)."""
