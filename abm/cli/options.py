"""What every ``abm`` subcommand parses the same way: one-line usage errors, "did you mean"
hints, and whole numbers.

A mistyped option or command is answered with the nearest valid one, since Python 3.11's argparse
cannot do that itself; options must be spelled out in full, so that a prefix such as
``--patient`` is pointed at ``--patients`` rather than silently taken for it.
"""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Callable, Sequence


class UsageError(Exception):
    pass


def _nearest(word: str, candidates: Sequence[str]) -> str | None:
    """The candidate ``word`` was most likely meant to be, if any is close enough. Leading
    dashes are left out of the comparison: every option shares them, so they would make
    ``--bogus`` look like ``--out``."""
    names = {c.lstrip("-"): c for c in candidates}
    found = difflib.get_close_matches(word.lstrip("-"), list(names), n=1, cutoff=0.6)
    return names[found[0]] if found else None


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors, "did you mean" hints, no abbreviated options and no exit
    from inside the parser."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")

    def parse_known_args(  # type: ignore[override]
            self, args: Sequence[str] | None = None,
            namespace: argparse.Namespace | None = None) -> tuple[argparse.Namespace, list[str]]:
        """As argparse's, but an argument no parser knows is an error at once, reported by the
        (sub)command it was given to, with the option it most resembles."""
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            word = next((e for e in extras if e.startswith("-")), extras[0])
            name = word.split("=", 1)[0]
            options = [s for a in self._actions for s in a.option_strings if s.startswith("--")]
            match = _nearest(name, options) if name.startswith("-") else None
            hint = f"did you mean {match}?" if match else f"see {self.prog} --help"
            raise UsageError(f"{self.prog}: unrecognized argument {name}; {hint}")
        return namespace, extras

    def _check_value(self, action: argparse.Action, value: object) -> None:
        """Refuse a value outside ``action.choices``, naming the nearest choice."""
        choices = action.choices
        if choices is None or value in choices:  # type: ignore[operator]
            return
        names = [str(c) for c in choices]  # type: ignore[union-attr]
        match = _nearest(str(value), names)
        hint = f"did you mean {match!r}?" if match else f"choose from {', '.join(names)}"
        if isinstance(action, argparse._SubParsersAction):
            raise argparse.ArgumentError(None, f"unknown command {value!r}; {hint}")
        raise argparse.ArgumentError(action, f"invalid choice {value!r}; {hint}")


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
