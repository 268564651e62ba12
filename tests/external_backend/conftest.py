"""The ``extdemo`` project is data for the external-backend test, not tests to collect here."""

collect_ignore = ["extdemo"]
