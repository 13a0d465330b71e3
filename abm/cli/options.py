"""What every ``abm`` subcommand parses the same way: one-line usage errors and whole numbers."""

from __future__ import annotations

import argparse
from collections.abc import Callable


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors and no exit from inside the parser."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def whole_number(name: str, least: int = 1) -> Callable[[str], int]:
    """An argparse type: a whole number >= ``least``, with errors naming the option ``name``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{name} must be a whole number, got {text!r}") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"{name} must be at least {least}, got {value}")
        return value
    return parse
