"""The ``steward`` command: a client of the REST API (plus ``server`` and ``db``, which
start the service through the composition root)."""
