"""The ``abm graph OUT`` command: draw a run's causal graph to PNG or SVG.

It reads ``OUT/causal_graph.json`` (checked against ``OUT/manifest.json``) and draws it
(``abm.output.causal_figure``) to ``--to FILE``, by default ``OUT/causal_graph.png``; the
format follows the suffix. Everything is checked before anything is drawn (the folder, the graph
file, the suffix, the target), and the figure is written under a temporary name and renamed into
place, so a refused or failed command leaves nothing behind and keeps an earlier figure intact.

Inside ``OUT`` only the figure names ``abm graph`` owns are allowed (``causal_graph.png``,
``causal_graph.svg``): checking the folder against its manifest ignores those two, and any other
file there would make ``abm validate`` and the exports refuse the folder.

``abm.cli.app`` wires it with ``add_graph_parser(sub)`` and ``run_graph_command(args)``. Only
``argparse`` and ``pathlib`` load up front, so ``abm --help`` stays instant.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any


def add_graph_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``graph`` subcommand to ``subparsers`` (from ``add_subparsers``)."""
    parser = subparsers.add_parser(
        "graph", help="draw a run's causal graph (causal_graph.json) to PNG or SVG",
        description="Draw the causal graph an abm run recorded in OUT/causal_graph.json: "
        "columns, trigger flags, susceptibilities and the engine's onset probability and "
        "attack as nodes coloured by kind; couplings, risk factors, onset steps and feedback "
        "rules as edges labelled with their lag in days. The format follows --to's suffix "
        "(.png or .svg). The file is written under a temporary name and renamed into place "
        "when complete.")
    parser.add_argument("folder", metavar="OUT", type=Path,
                        help="output folder of abm run (any format, sharded or not)")
    parser.add_argument("--to", metavar="FILE", type=Path, default=None,
                        help="the figure to write, .png or .svg (default OUT/causal_graph.png); "
                        "inside OUT only causal_graph.png or causal_graph.svg")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing --to file (only once the new one is complete)")
    parser.add_argument("--quiet", action="store_true", help="no summary line on stderr")
    return parser


def _check_target(target: Path, folder: Path) -> None:
    """A target inside ``folder`` must be one of the figure names the folder's checks ignore."""
    from abm.errors import OutputError
    from abm.output.causal_graph import FIGURE_FILES

    inside = target.absolute().resolve().parent == folder.absolute().resolve()
    if target.absolute().resolve().is_relative_to(folder.absolute().resolve()) and not (
            inside and target.name in FIGURE_FILES):
        raise OutputError(f"{target}: inside the abm output folder {folder}, --to must be "
                          f"{' or '.join(FIGURE_FILES)} (its manifest lists every other file it "
                          "may hold)")


def run_graph_command(args: argparse.Namespace) -> int:
    """Run ``abm graph``; return the exit status (0). Bad input raises AbmError."""
    from abm.output.causal_figure import draw, figure_format, read_graph
    from abm.output.files import check_file, write_file
    from abm.wording import plural

    started = time.perf_counter()
    target = args.to if args.to is not None else args.folder / "causal_graph.png"
    fmt = figure_format(target)
    graph = read_graph(args.folder)
    _check_target(target, args.folder)
    check_file(target, args.overwrite, "--to")
    write_file(target, lambda path: draw(graph, path, fmt))
    if not args.quiet:
        print(f"abm: causal graph of {plural(len(graph['nodes']), 'node')} and "
              f"{plural(len(graph['edges']), 'edge')} -> {target} ({fmt}) in "
              f"{time.perf_counter() - started:.2f} s",
              file=sys.stderr)
    return 0
