"""The Alertmanager sink: Gluster conditions and alarms posted as alerts to every member of an Alertmanager cluster."""
