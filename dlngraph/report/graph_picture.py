"""A picture of a network's graph, as PNG or SVG bytes.

Graphviz draws graphs best, so its `dot` program is used when it is on PATH (it renders the
DOT text of `dlngraph.graph.render.to_dot`). Without it, matplotlib draws the same graph on the
layered layout of `report.layout`: boxes for nodes, arrows for edges, dashed arrows for
residual edges, a thick border around the output. Either way the picture needs nothing
beyond what `dlngraph[report]` installs.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path
from typing import Literal

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text

from dlngraph.graph import CompiledNetwork
from dlngraph.graph.render import edges, to_dot
from dlngraph.report.layout import Placement, layered_layout, rows
from dlngraph.spec.nodes import INPUT, LMNode, VoteNode

PictureFormat = Literal["png", "svg"]
Engine = Literal["auto", "dot", "matplotlib"]

FILL = {"input": "#eeeeee", "lm": "#dbe9f6", "vote": "#fdf1c7", "concat": "#dcefdc"}
"""Box colours by kind of node."""


def dot_available() -> bool:
    return shutil.which("dot") is not None


def network_picture(network: CompiledNetwork, fmt: PictureFormat = "png", engine: Engine = "auto") -> bytes:
    """The network drawn as a `fmt` file's bytes, by Graphviz (`dot`) or by matplotlib.

    `engine="auto"` uses Graphviz when `dot` is installed, else matplotlib.
    """
    if engine == "dot" or (engine == "auto" and dot_available()):
        return _with_dot(network, fmt)
    return _with_matplotlib(network, fmt)


def write_network_picture(
    network: CompiledNetwork, path: Path, engine: Engine = "auto", *, fmt: PictureFormat | None = None
) -> None:
    """Draw the network into `path` as `fmt`, by default as PNG or SVG after the file's suffix."""
    if fmt is None:
        fmt = _format_of(Path(path))
    Path(path).write_bytes(network_picture(network, fmt, engine))


def _format_of(path: Path) -> PictureFormat:
    suffix = path.suffix.lower()
    if suffix not in (".png", ".svg"):
        raise ValueError(f"{path}: a network picture is a .png or .svg file")
    return "png" if suffix == ".png" else "svg"


def _with_dot(network: CompiledNetwork, fmt: PictureFormat) -> bytes:
    result = subprocess.run(
        ["dot", f"-T{fmt}", "-Gdpi=110"], input=to_dot(network).encode(), capture_output=True, timeout=60, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"Graphviz dot failed: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout


def _with_matplotlib(network: CompiledNetwork, fmt: PictureFormat) -> bytes:
    placed = layered_layout(network)
    figure, boxes = _figure(network, placed)
    for index, (source, reader, kind) in enumerate(edges(network)):
        bend = _bend(placed[source], placed[reader], index)
        _arrow(figure.axes[0], boxes[source], boxes[reader], bend=bend, residual=kind == "residual")
    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # SVG text stays text: searchable, small
        figure.savefig(buffer, format=fmt, dpi=110, metadata={"Date": None} if fmt == "svg" else None)
    return buffer.getvalue()


def _figure(network: CompiledNetwork, placed: dict[str, Placement]) -> tuple[Figure, dict[str, Text]]:
    """A blank canvas sized to the layout, with a box for every node."""
    width = max(len(row) for row in rows(network))
    height = max(placement.row for placement in placed.values()) + 1
    figure = Figure(figsize=(2.2 * width + 2.4, max(2.4, 1.25 * height)))
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_axis_off()
    axes.set_xlim(-width / 2 - 0.55, width / 2 + 0.55)  # a margin for the edges that bend
    axes.set_ylim(-height + 0.4, 0.6)
    boxes = {node: _box(axes, network, node, placement) for node, placement in placed.items()}
    if any(kind == "residual" for _, _, kind in edges(network)):
        axes.text(0.99, 0.01, "dashed: residual edge", transform=axes.transAxes, ha="right", va="bottom",
                  fontsize=8, color="0.4")
    return figure, boxes


def _box(axes: Axes, network: CompiledNetwork, node: str, placement: Placement) -> Text:
    kind = "input" if node == INPUT else _kind(network, node)
    unused = node != INPUT and node not in network.required_by_output
    style = {
        "boxstyle": "round,pad=0.5",
        "facecolor": "white" if unused else FILL.get(kind, "white"),
        "edgecolor": "#1f3b57" if node == network.output else "0.35",
        "linewidth": 2.4 if node == network.output else 1.0,
        "linestyle": "--" if unused else "-",
    }
    label = node if node == INPUT else f"{node}\n{_caption(network, node, kind, unused)}"
    return axes.text(placement.x, -placement.row, label, ha="center", va="center", fontsize=10, zorder=3,
                     bbox=style, color="0.45" if unused else "black")


def _bend(source: Placement, reader: Placement, index: int) -> float:
    """Straight from one row to the next; an edge that skips rows (or stays in its row) bends
    to pass beside the boxes in between, alternately left and right."""
    if reader.row - source.row == 1:
        return 0.0
    return 0.35 if index % 2 else -0.35


def _arrow(axes: Axes, start: Text, end: Text, *, bend: float, residual: bool) -> None:
    """An arrow from box edge to box edge, dashed for a residual edge.

    Arrows are drawn after the boxes (higher zorder): a box learns its size only when drawn,
    and the arrow needs it to stop at the box's border.
    """
    axes.annotate(
        "", xy=end.get_position(), xytext=start.get_position(), zorder=4,
        arrowprops={
            "arrowstyle": "-|>", "mutation_scale": 14,
            "patchA": start.get_bbox_patch(), "patchB": end.get_bbox_patch(),
            "connectionstyle": f"arc3,rad={bend}",
            "linestyle": "--" if residual else "-",
            "color": "0.45" if residual else "0.15",
        },
    )


def _kind(network: CompiledNetwork, node: str) -> str:
    return str(type(network.node(node)).__struct_config__.tag)


def _caption(network: CompiledNetwork, node: str, kind: str, unused: bool) -> str:
    """The line under a node's id: its kind and what sets it apart."""
    spec = network.node(node)
    words = [kind]
    if isinstance(spec, LMNode):
        words.append(spec.model)
        if not spec.trainable:
            words.append("frozen")
    elif isinstance(spec, VoteNode):
        words.append(spec.method)
    if node == network.output:
        words.append("· output")
    if unused:
        words.append("· unused")
    return " ".join(words)
