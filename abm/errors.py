"""Exceptions a user can cause.

Every error that bad input can provoke is an :class:`AbmError` with a one-line message naming the
field or path and what is allowed. The command line turns these into exit status 2 with no
traceback; anything else is a bug and is allowed to crash loudly.
"""

from __future__ import annotations


class AbmError(Exception):
    """Base class of errors caused by the user's input or environment."""


class ConfigError(AbmError, ValueError):
    """A configuration value is unknown, of the wrong type or out of range."""


class OutputError(AbmError, OSError):
    """An output path cannot be used (exists with data, is a file, is not writable)."""


class InputError(AbmError, ValueError):
    """An input folder or file is missing, unreadable or not an ``abm`` output."""


class MainGuardError(AbmError, RuntimeError):
    """A script started worker processes from its top level, outside
    ``if __name__ == "__main__":``, so every worker ran the script again
    (``abm.scale.mainguard``)."""
