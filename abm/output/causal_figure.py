"""Drawing a run's ``causal_graph.json``: what ``abm graph`` does.

The figure is read from the file, not rebuilt from the code, so it shows exactly the graph that
was recorded with the data. The file is checked against the output's ``manifest.json`` first (a
graph edited after the run is refused, as ``abm validate`` refuses edited frames).

Layout: causes on the left, effects on the right. Each node's column is its longest chain of
same-run causes (feedback edges and lagged couplings, which close loops, left out), and a node
that only feeds others (a susceptibility, the baseline) sits just left of what it feeds. Nodes are
coloured by kind, edges by kind and labelled with their lags; feedback edges are curved, since
they run back from the attack to the columns it edits. NetworkX holds the graph and draws it;
matplotlib (Agg backend, files only) renders it. Both load only when a figure is drawn.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from abm.errors import InputError
from abm.output.causal_graph import GRAPH_FILE
from abm.output.files import sha256
from abm.output.write import MANIFEST, read_manifest

#: figure formats, by the target's suffix
SUFFIXES = {".png": "png", ".svg": "svg"}
NODE_COLOURS = {"column": "#cfe2f3", "flag": "#f9cb9c", "susceptibility": "#d9ead3",
                "engine": "#ea9999"}
EDGE_COLOURS = {"coupling": "#3d85c6", "input": "#6fa8dc", "risk_factor": "#e69138",
                "onset": "#990000", "feedback": "#741b47", "after_run": "#8e7cc3"}
_FONT = 7.0


def figure_format(target: Path) -> str:
    """The format a target's suffix names, or an :class:`InputError` naming the suffixes."""
    fmt = SUFFIXES.get(target.suffix.lower())
    if fmt is None:
        raise InputError(f"{target}: unknown figure format {target.suffix or '(no suffix)'!r}; "
                         f"name a {' or '.join(SUFFIXES)} file")
    return fmt


def read_graph(folder: Path) -> dict[str, Any]:
    """The causal graph of an output folder, checked against its manifest."""
    manifest = read_manifest(folder)
    path = folder / GRAPH_FILE
    if not path.is_file():
        raise InputError(f"{path}: missing; this output has no causal graph (write it again "
                         "with this version of abm)")
    record = manifest.get("files", {}).get(GRAPH_FILE)
    if not isinstance(record, dict) or record.get("sha256") != sha256(path):
        raise InputError(f"{path}: changed since it was written (SHA-256 differs from "
                         f"{MANIFEST})")
    try:
        graph = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: unreadable ({exc})") from None
    if not (isinstance(graph, dict) and isinstance(graph.get("nodes"), list)
            and isinstance(graph.get("edges"), list)):
        raise InputError(f"{path}: not a causal graph (no nodes and edges)")
    return graph


def to_networkx(graph: dict[str, Any]) -> Any:
    """The graph as a ``networkx.DiGraph``; parallel edges (one column read at two lags) become
    one edge whose ``lags`` lists both."""
    import networkx as nx

    g = nx.DiGraph()
    for node in graph["nodes"]:
        g.add_node(node["id"], **node)
    for edge in graph["edges"]:
        a, b = edge["from"], edge["to"]
        if g.has_edge(a, b):
            g.edges[a, b]["lags"].append(edge["lag_days"])
        else:
            g.add_edge(a, b, kind=edge["kind"], lags=[edge["lag_days"]])
    return g


def layers(g: Any) -> dict[str, int]:
    """Each node's column of the layout (see the module's docstring)."""
    import networkx as nx

    forward = nx.DiGraph()
    forward.add_nodes_from(g.nodes)
    forward.add_edges_from((a, b) for a, b, d in g.edges(data=True)
                           if d["kind"] not in ("feedback", "after_run")
                           and not (d["kind"] in ("coupling", "input") and min(d["lags"]) > 0))
    if not nx.is_directed_acyclic_graph(forward):  # a declared same-day loop: flat layout
        return dict.fromkeys(g.nodes, 0)
    layer: dict[str, int] = {}
    for node in nx.topological_sort(forward):
        layer[node] = max((layer[p] + 1 for p in forward.predecessors(node)), default=0)
    for node in reversed(list(nx.topological_sort(forward))):
        if not any(forward.predecessors(node)) and any(forward.successors(node)):
            layer[node] = min(layer[s] for s in forward.successors(node)) - 1
    return layer


def _positions(g: Any, layer: dict[str, int]) -> dict[str, tuple[float, float]]:
    columns: dict[int, list[str]] = {}
    for node in g.nodes:  # the file's order: grouped by component
        columns.setdefault(layer[node], []).append(node)
    pos = {}
    for x, names in columns.items():
        top = (len(names) - 1) / 2
        for i, name in enumerate(names):
            pos[name] = (3.0 * x, top - i)
    return pos


def _curve(kind: str, a: tuple[float, float], b: tuple[float, float]) -> str:
    """How an edge bends: feedback runs back below the forward edges, an edge between nodes of
    one column of the layout (a lagged coupling) bows out to the left of it."""
    if kind in ("feedback", "after_run"):
        return "arc3,rad=-0.35"
    if a[0] == b[0]:
        return f"arc3,rad={-0.5 if b[1] > a[1] else 0.5}"
    return "arc3,rad=0.04"


def _lag_label(lags: list[int]) -> str:
    return "lag " + ", ".join(str(lag) for lag in sorted(lags))


def draw(graph: dict[str, Any], target: Path, fmt: str) -> None:
    """Draw ``graph`` to ``target`` (a path the caller made safe to write) as ``fmt``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import networkx as nx
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    g = to_networkx(graph)
    layer = layers(g)
    pos = _positions(g, layer)
    xs = [x for x, _ in pos.values()] or [0.0]
    ys = [y for _, y in pos.values()] or [0.0]
    fig, ax = plt.subplots(figsize=(max(8.0, 1.1 * (max(xs) - min(xs)) + 4.5),
                                    max(4.0, 0.45 * (max(ys) - min(ys)) + 1.8)))
    try:
        ax.set_xlim(min(xs) - 1.6, max(xs) + 1.6)
        ax.set_ylim(min(ys) - 0.8, max(ys) + 0.8)
        ax.set_axis_off()
        boxes = {}
        for node, data in g.nodes(data=True):
            x, y = pos[node]
            boxes[node] = ax.text(
                x, y, node, ha="center", va="center", fontsize=_FONT, zorder=3,
                fontweight="bold" if data.get("editable") else "normal",
                bbox={"boxstyle": "round,pad=0.3", "ec": "#444444",
                      "fc": NODE_COLOURS.get(data.get("kind"), "#eeeeee")})
        fig.canvas.draw()  # the boxes get their size: arrows are clipped to them
        groups: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for a, b, d in g.edges(data=True):
            groups.setdefault((d["kind"], _curve(d["kind"], pos[a], pos[b])), []).append((a, b))
        for (kind, style), edges in groups.items():
            colour = EDGE_COLOURS.get(kind, "#666666")
            for a, b in edges:
                ax.annotate("", xy=pos[b], xytext=pos[a], zorder=2, arrowprops={
                    "arrowstyle": "-|>", "color": colour, "lw": 1.0, "shrinkA": 1,
                    "shrinkB": 1, "connectionstyle": style,
                    "patchA": boxes[a].get_bbox_patch(), "patchB": boxes[b].get_bbox_patch()})
            nx.draw_networkx_edge_labels(
                g, pos, ax=ax, edge_labels={(a, b): _lag_label(g.edges[a, b]["lags"])
                                            for a, b in edges},
                font_size=_FONT - 1, font_color=colour, connectionstyle=style, node_size=0,
                rotate=False, bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none",
                                    "alpha": 0.85})
        handles = [Patch(fc=c, ec="#444444", label=f"{k} node") for k, c in NODE_COLOURS.items()]
        handles += [Line2D([], [], color=c, label=f"{k} edge") for k, c in EDGE_COLOURS.items()]
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=_FONT,
                  frameon=False)
        ax.set_title(f"causal graph: {len(graph['nodes'])} nodes, {len(graph['edges'])} edges "
                     "(bold: editable columns; lag in days)", fontsize=_FONT + 2)
        fig.tight_layout()
        # no date in an SVG: the same graph draws to the same file
        fig.savefig(target, format=fmt, dpi=150,
                    metadata={"Date": None} if fmt == "svg" else None)
    finally:
        plt.close(fig)
