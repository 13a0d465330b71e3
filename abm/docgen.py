"""The documentation's generated blocks: tables derived from the components and the code.

README.md and the files in ``docs/`` hold blocks between ``<!-- generated: NAME -->`` and
``<!-- end generated -->``; :data:`BLOCKS` says what each is made from. ``python -m abm.docgen``
rewrites them after a change (a new component, column or setting); the tests fail while a block
is out of date, so the documentation cannot drift from the code.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILES = ("README.md", "docs/model.md", "docs/architecture.md")
_BLOCK = re.compile(
    r"(<!-- generated: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- end generated -->)", re.S)


def _columns() -> str:
    from abm.output.schemas import markdown_tables

    return markdown_tables()


def _settings() -> str:
    from abm.config.settings import markdown_table

    return markdown_table()


def _fusemoe_features() -> str:
    from abm.exports.fusemoe import markdown_table

    return markdown_table()


def _eventlog_attributes() -> str:
    from abm.exports.eventlog import markdown_table

    return markdown_table()


def _components() -> str:
    from abm.model.describe import components_table

    return components_table()


def _model_reference() -> str:
    from abm.model.describe import model_reference

    return model_reference()


def _assumptions() -> str:
    from abm.model.describe import assumptions_table

    return assumptions_table()


def _presets() -> str:
    from abm.model.presets import markdown_table

    return markdown_table()


#: block name -> what makes its text
BLOCKS: dict[str, Callable[[], str]] = {
    "columns": _columns,
    "settings": _settings,
    "fusemoe-features": _fusemoe_features,
    "eventlog-attributes": _eventlog_attributes,
    "components": _components,
    "model-reference": _model_reference,
    "assumptions": _assumptions,
    "presets": _presets,
}


def render(text: str) -> str:
    """``text`` with every generated block made anew."""
    def fill(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in BLOCKS:
            raise KeyError(f"unknown generated block {name!r}; known: {', '.join(BLOCKS)}")
        return match[1] + BLOCKS[name]() + match[4]
    return _BLOCK.sub(fill, text)


def blocks(text: str) -> dict[str, str]:
    """The generated blocks of ``text`` as they stand: name -> body."""
    return {m["name"]: m["body"] for m in _BLOCK.finditer(text)}


def main() -> int:
    """Rewrite the generated blocks of every documentation file; print what changed."""
    for name in FILES:
        path = ROOT / name
        if not path.is_file():
            continue
        old = path.read_text(encoding="utf-8")
        new = render(old)
        if new != old:
            path.write_text(new, encoding="utf-8")
            print(f"updated {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
