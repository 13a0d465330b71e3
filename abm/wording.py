"""How messages word things: counts with the right plural, and options in the caller's terms.

The same checks serve the ``abm`` command and the Python API, and a message that tells the user
how to proceed must name something that user can type: ``--overwrite`` at the command line,
``overwrite=True`` in Python. The command line wraps its work in :func:`command_line`; every
other caller is spoken to in Python terms. A context variable (not a global flag) keeps a Python
program that runs ``abm.cli.app.main`` in one thread and the API in another from mixing the two.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_COMMAND_LINE: ContextVar[bool] = ContextVar("abm_command_line", default=False)


@contextmanager
def command_line() -> Iterator[None]:
    """Within this block, messages name command-line options (``--out``, ``--overwrite``)."""
    token = _COMMAND_LINE.set(True)
    try:
        yield
    finally:
        _COMMAND_LINE.reset(token)


def option(flag: str, argument: str | None = None) -> str:
    """What the caller calls a setting: ``flag`` (``--window-days``) at the command line, else
    the Python argument, by default the flag's name in Python spelling (``window_days``).

    A ``flag`` without dashes (``output_dir``) is an argument only Python has, named as is.
    """
    if _COMMAND_LINE.get():
        return flag
    return argument if argument is not None else flag.lstrip("-").replace("-", "_")


def switch(flag: str, argument: str | None = None) -> str:
    """How the caller turns a yes/no option on: ``--overwrite`` or ``overwrite=True``."""
    return flag if _COMMAND_LINE.get() else f"{option(flag, argument)}=True"


def plural(count: int, noun: str, many: str | None = None, spec: str = "") -> str:
    """``count`` and ``noun``, in the plural unless ``count`` is one: "1 day", "2 days".

    ``many`` is the plural when it is not ``noun + "s"``; ``spec`` formats the count (``","``
    for thousands separators).
    """
    return f"{count:{spec}} {noun if count == 1 else (many or noun + 's')}"
