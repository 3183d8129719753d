"""Pictures of networks: the layered layout, matplotlib and Graphviz drawings, `show --format png|svg`."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlngraph.cli.main import main
from dlngraph.graph.render import edges
from dlngraph.report.graph_picture import (
    dot_available,
    network_picture,
    write_network_picture,
)
from dlngraph.report.layout import layered_layout
from dlngraph.spec.nodes import INPUT
from tests.report.pictures import assert_picture
from tests.scripted import SPECS_DIR, network_from_text, shipped_network

SHIPPED = sorted(path.stem for path in SPECS_DIR.glob("*.yaml"))

WITH_UNUSED = """
name: unused
models: {fast: {backend: local}}
nodes:
  - {kind: lm, id: left, model: fast, prompt: a}
  - {kind: lm, id: right, model: fast, prompt: b}
  - {kind: lm, id: spare, model: fast, prompt: c, inputs: [left]}
  - {kind: concat, id: both, inputs: [right, left]}
  - {kind: lm, id: answer, model: fast, prompt: d, inputs: [both]}
output: answer
"""


@pytest.mark.parametrize("name", SHIPPED)
def test_every_edge_of_a_shipped_network_points_down(name: str) -> None:
    network = shipped_network(name)
    placed = layered_layout(network)
    assert set(placed) == {INPUT, *network.node_ids}
    assert placed[INPUT].row == 0 and placed[network.output].row == max(p.row for p in placed.values())
    for source, reader, _ in edges(network):
        assert placed[source].row < placed[reader].row


def test_nodes_the_output_ignores_get_a_row_of_their_own() -> None:
    network = network_from_text(WITH_UNUSED)
    placed = layered_layout(network)
    assert placed["spare"].row > placed["answer"].row
    row_of_two = sorted(node for node, p in placed.items() if p.row == 1)
    assert row_of_two == ["left", "right"] and {placed["left"].x, placed["right"].x} == {-0.5, 0.5}


@pytest.mark.parametrize("name", ["residual", "wide_ensemble"])  # edges that skip rows; a wide row
def test_matplotlib_draws_shipped_networks(name: str) -> None:
    assert_picture(network_picture(shipped_network(name), "png", engine="matplotlib"), min_width=300)


def test_the_svg_keeps_node_names_as_text() -> None:
    svg = network_picture(network_from_text(WITH_UNUSED), "svg", engine="matplotlib").decode()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    for node in ("input", "left", "right", "spare", "both", "answer"):
        assert f">{node}" in svg


@pytest.mark.skipif(not dot_available(), reason="Graphviz `dot` is not installed (the matplotlib drawing is tested)")
def test_graphviz_draws_when_it_is_installed() -> None:
    network = shipped_network("residual")
    assert_picture(network_picture(network, "png", engine="dot"))
    assert "position" in network_picture(network, "svg", engine="dot").decode()


def test_a_picture_file_takes_its_format_from_the_suffix_unless_told(tmp_path: Path) -> None:
    network = shipped_network("dln2")
    write_network_picture(network, tmp_path / "net.SVG", engine="matplotlib")
    assert "<svg" in (tmp_path / "net.SVG").read_text()
    write_network_picture(network, tmp_path / "net.svg", engine="matplotlib", fmt="png")
    assert_picture(tmp_path / "net.svg")
    with pytest.raises(ValueError, match=r"net\.gif: a network picture is a \.png or \.svg file"):
        write_network_picture(network, tmp_path / "net.gif")


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_show_draws_a_spec_into_a_file(fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / f"dln2.{fmt}"
    assert main(["show", str(SPECS_DIR / "dln2.yaml"), "--format", fmt, "--out", str(out)]) == 0
    assert capsys.readouterr().out == ""
    if fmt == "png":
        assert_picture(out)
    else:
        assert "answer" in out.read_text()


def test_show_asks_for_a_file_before_drawing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", str(SPECS_DIR / "dln2.yaml"), "--format", "png"]) == 2
    assert "--out FILE" in capsys.readouterr().err


def test_show_writes_text_formats_to_a_file_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "dln2.dot"
    assert main(["show", str(SPECS_DIR / "dln2.yaml"), "--format", "dot", "--out", str(out)]) == 0
    assert out.read_text().startswith('digraph "dln2"') and capsys.readouterr().out == ""
