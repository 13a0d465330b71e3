"""The ``abm`` command line: one module per command (``app`` parses and dispatches)."""
