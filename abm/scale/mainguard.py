"""Worker pools started from a script: the ``if __name__ == "__main__":`` rule, explained.

Experiments (``run_experiment(..., workers=K)``) and sharded runs start their worker processes
with ``forkserver`` or ``spawn``: each worker imports the main script again before it can run
anything. A script that calls ``run_experiment`` at its top level, outside
``if __name__ == "__main__":``, therefore calls it again inside every worker, where starting
processes is refused ("bootstrapping phase"); the worker dies and the pool reports only
``BrokenProcessPool``. This module turns that into one line that says what to change:

- in a worker that is still importing the main script (:func:`in_bootstrap`), the pool code
  exits the worker quietly instead of printing a long traceback per worker;
- in the parent, once the pool is broken, :func:`check_main_guard` finds the line of the main
  script that made the call and, when it is not under the guard, raises :class:`MainGuardError`.
  A pool broken for another reason (a worker killed, out of memory) is left to the caller.
"""

from __future__ import annotations

import ast
import multiprocessing
import sys
from pathlib import Path
from types import FrameType

from abm.errors import MainGuardError


def in_bootstrap() -> bool:
    """True in a worker process that is still importing the main script."""
    return bool(getattr(multiprocessing.current_process(), "_inheriting", False))


def _is_main_test(test: ast.expr) -> bool:
    """``__name__ == "__main__"`` (either way round)."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1
            and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = (test.left, test.comparators[0])
    return (any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides)
            and any(isinstance(s, ast.Constant) and s.value == "__main__" for s in sides))


def _guarded(path: str, line: int) -> bool:
    """Whether ``line`` of the script ``path`` lies under ``if __name__ == "__main__":``."""
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return False
    return any(isinstance(node, ast.If) and _is_main_test(node.test)
               and node.lineno <= line <= (node.end_lineno or node.lineno)
               for node in ast.walk(tree))


def _main_script_line(frame: FrameType | None) -> tuple[str, int] | None:
    """The main script's file and the line of its top-level code that is running, if the call
    comes from there and workers import that script again (not from an interactive session,
    ``python -c`` or ``python -m package``)."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or not path:
        return None
    # as multiprocessing.spawn decides: a main module run by name (python -m pkg.mod) is
    # imported again by name, except a package's __main__, which workers never import
    name = getattr(getattr(main, "__spec__", None), "name", None)
    if name is not None and (name == "__main__" or name.endswith(".__main__")):
        return None
    while frame is not None:
        if frame.f_code.co_name == "<module>" and frame.f_globals is vars(main):
            return path, frame.f_lineno
        frame = frame.f_back
    return None


def check_main_guard(call: str) -> None:
    """After a broken worker pool: raise :class:`MainGuardError` when ``call`` was made from the
    main script's top level outside ``if __name__ == "__main__":`` (the workers re-ran it)."""
    where = _main_script_line(sys._getframe(1))
    if where is None or _guarded(*where):
        return
    path, line = where
    raise MainGuardError(
        f"{Path(path).name}, line {line}: {call} starts worker processes, which import the "
        "script again and so ran it again themselves; put the script's top-level code under "
        'if __name__ == "__main__":') from None
