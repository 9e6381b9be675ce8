"""Lay out a run's stage graph for an inline SVG: plain data in, coordinates out.

Pure on purpose (no Django, no torch) so the layout can be tested without a database:
the selector ``selectors.stage_graph`` builds the nodes and edges from the rows, the
template ``runs/_graph.html`` draws what ``layout`` returns.

Columns are the longest path from a stage with no inputs, so every edge points right;
rows are the order of the stages within their column (the recipe's order).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

NODE_WIDTH = 184
NODE_HEIGHT = 72
COLUMN_GAP = 76  # room for an edge's label between two columns
ROW_GAP = 22
PADDING = 8
NAME_CHARS = 26  # what fits on a box's first line at 12px

# Box fill and border by status; the status is written in the box too, so colour is
# never the only signal.
STATUS_COLOURS: dict[str, tuple[str, str, str]] = {  # fill, border, text (4.5:1 on fill)
    "pending": ("#f3f4f6", "#9ca3af", "#4b5563"),
    "queued": ("#eff6ff", "#93c5fd", "#1d4ed8"),
    "running": ("#dbeafe", "#2563eb", "#1d4ed8"),
    "succeeded": ("#dcfce7", "#15803d", "#166534"),
    "failed": ("#fee2e2", "#b91c1c", "#991b1b"),
    "cancelled": ("#fef3c7", "#b45309", "#92400e"),
}
# Edge colour by what flows along it; an edge not passed yet is dashed, a bare "needs"
# (wait for it, take nothing from it) dotted.
EDGE_COLOURS = {"model": "#2563eb", "dataset": "#7c3aed", "needs": "#6b7280"}


@dataclass(frozen=True)
class Node:
    """A stage. ``note`` is shown under its status: "reused", "waiting on X"."""

    key: str
    name: str
    kind: str
    status: str
    url: str
    note: str = ""


@dataclass(frozen=True)
class Edge:
    """``source`` feeds ``target`` (keys of nodes). ``label`` is model, dataset or needs;
    ``url`` and ``artifact`` name the checkpoint or dataset version that went along it,
    once the target's inputs are pinned (empty before)."""

    source: str
    target: str
    label: str
    url: str = ""
    artifact: str = ""


@dataclass(frozen=True)
class PlacedNode:
    node: Node
    column: int
    row: int
    x: int
    y: int
    width: int
    height: int
    fill: str
    stroke: str
    ink: str  # the status text's colour
    short_name: str
    short_note: str

    @property
    def text_x(self) -> int:
        return self.x + 8

    def line_y(self, line: int) -> int:
        return self.y + 16 + 15 * line

    @property
    def name_y(self) -> int:
        return self.line_y(0)

    @property
    def status_y(self) -> int:
        return self.line_y(1)

    @property
    def kind_y(self) -> int:
        return self.line_y(2)

    @property
    def note_y(self) -> int:
        return self.line_y(3)


@dataclass(frozen=True)
class PlacedEdge:
    edge: Edge
    path: str  # SVG path data
    label_x: int
    label_y: int

    @property
    def colour(self) -> str:
        return EDGE_COLOURS.get(self.edge.label, EDGE_COLOURS["needs"])

    @property
    def dashes(self) -> str:
        if self.edge.label == "needs":
            return "2 3"
        return "" if self.edge.url else "5 4"

    @property
    def title(self) -> str:
        if self.edge.artifact:
            return f"{self.edge.label}: {self.edge.artifact}"
        if self.edge.label == "needs":
            return "needs (waits for it to succeed)"
        return f"{self.edge.label} (not passed yet)"


@dataclass(frozen=True)
class Layout:
    nodes: list[PlacedNode]
    edges: list[PlacedEdge]
    width: int
    height: int


def depths(keys: Sequence[str], edges: Sequence[Edge]) -> dict[str, int]:
    """Each node's longest path from a node without inputs (Kahn's order). Edges naming
    unknown nodes are ignored; nodes on a cycle, which a run never has, get column 0."""
    known = set(keys)
    incoming: dict[str, set[str]] = {key: set() for key in keys}
    for edge in edges:
        if edge.source in known and edge.target in known and edge.source != edge.target:
            incoming[edge.target].add(edge.source)
    depth = dict.fromkeys(keys, 0)
    remaining = {key: set(sources) for key, sources in incoming.items()}
    ready = [key for key in keys if not remaining[key]]
    while ready:
        done = ready.pop(0)
        for key in keys:
            if done in remaining[key]:
                remaining[key].discard(done)
                depth[key] = max(depth[key], depth[done] + 1)
                if not remaining[key]:
                    ready.append(key)
    return depth


def layout(nodes: Sequence[Node], edges: Sequence[Edge]) -> Layout:
    """Place the nodes in columns by depth and rows by their order, and route the edges."""
    keys = [node.key for node in nodes]
    depth = depths(keys, edges)
    rows: dict[int, int] = {}
    placed: dict[str, PlacedNode] = {}
    for node in nodes:
        column = depth[node.key]
        row = rows.get(column, 0)
        rows[column] = row + 1
        placed[node.key] = _place(node, column, row)
    known = [e for e in edges if {e.source, e.target} <= placed.keys() and e.source != e.target]
    routed = _route(known, placed)
    columns = max(rows, default=-1) + 1
    height_rows = max(rows.values(), default=0)
    width = 2 * PADDING + columns * NODE_WIDTH + max(columns - 1, 0) * COLUMN_GAP
    height = 2 * PADDING + height_rows * NODE_HEIGHT + max(height_rows - 1, 0) * ROW_GAP
    return Layout(list(placed.values()), routed, width, height)


def _place(node: Node, column: int, row: int) -> PlacedNode:
    fill, stroke, ink = STATUS_COLOURS.get(node.status, STATUS_COLOURS["pending"])
    return PlacedNode(
        node=node, column=column, row=row,
        x=PADDING + column * (NODE_WIDTH + COLUMN_GAP),
        y=PADDING + row * (NODE_HEIGHT + ROW_GAP),
        width=NODE_WIDTH, height=NODE_HEIGHT, fill=fill, stroke=stroke, ink=ink,
        short_name=shorten(node.name, NAME_CHARS),
        short_note=shorten(node.note, NAME_CHARS + 2),
    )


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _route(edges: Sequence[Edge], placed: dict[str, PlacedNode]) -> list[PlacedEdge]:
    """An S-curve from the source's right side to the target's left side. Several edges
    at one side get their own port, so parallel edges and their labels don't overlap."""
    outs = _ports(edges, placed, "source")
    ins = _ports(edges, placed, "target")
    routed = []
    for index, edge in enumerate(edges):
        start, end = placed[edge.source], placed[edge.target]
        x1, y1 = start.x + start.width, outs[index]
        x2, y2 = end.x, ins[index]
        bend = max((x2 - x1) / 2, 1)
        curve = ((x1, y1), (x1 + bend, y1), (x2 - bend, y2), (x2, y2))
        label_x, label_y = _label_point(curve, x2 - COLUMN_GAP / 2)
        path = f"M{x1} {y1} C{x1 + bend:g} {y1} {x2 - bend:g} {y2} {x2} {y2}"
        routed.append(PlacedEdge(edge, path, round(label_x), round(label_y)))
    return routed


def _ports(edges: Sequence[Edge], placed: dict[str, PlacedNode], side: str) -> list[int]:
    """The y of each edge's end on ``side``, spread over the box's height; the other end's
    row decides the order so that edges don't cross at the box."""
    other = "target" if side == "source" else "source"
    groups: dict[str, list[int]] = {}
    for index, edge in enumerate(edges):
        groups.setdefault(getattr(edge, side), []).append(index)
    ports = [0] * len(edges)
    for key, indexes in groups.items():
        box = placed[key]
        indexes.sort(key=lambda i: (placed[getattr(edges[i], other)].y, i))
        for slot, index in enumerate(indexes, start=1):
            ports[index] = round(box.y + box.height * slot / (len(indexes) + 1))
    return ports


def _label_point(curve, x: float) -> tuple[float, float]:
    """The point of the cubic Bézier ``curve`` closest to ``x``: the label sits in the gap
    just before the target, where no box can cover it."""
    best = min((_bezier(curve, step / 64) for step in range(65)), key=lambda p: abs(p[0] - x))
    return best[0], best[1] - 3


def _bezier(curve, t: float) -> tuple[float, float]:
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = curve
    a, b, c, d = (1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t**2, t**3
    return a * x0 + b * x1 + c * x2 + d * x3, a * y0 + b * y1 + c * y2 + d * y3
