"""Text, DOT and Mermaid renderings of compiled networks."""

from __future__ import annotations

from pathlib import Path

from dlngraph.graph import compile_network
from dlngraph.graph.render import to_dot, to_mermaid, to_text
from dlngraph.spec import load_spec, load_spec_text

SPECS_DIR = Path(__file__).resolve().parents[2] / "specs"


def dln2():
    return compile_network(load_spec(SPECS_DIR / "dln2.yaml").spec)


def test_text_lists_nodes_edges_layers_and_critical_path() -> None:
    text = to_text(dln2())
    assert text.splitlines()[0] == "network dln2: 2 nodes, output 'answer'"
    assert "  reason  lm template=forward_cot@2 model=fast trainable\n" in text
    assert "  answer  lm template=classify_residual@2 model=fast trainable classes=Yes/No [output]\n" in text
    assert "edges:\n  input -> reason\n  reason -> answer\n  input -> answer (residual)\n" in text
    assert "layers:\n  0: reason\n  1: answer\n" in text
    assert text.endswith("critical path: input -> reason -> answer (2 LLM calls)\n")


def test_text_marks_unused_nodes() -> None:
    network = compile_network(
        load_spec_text(
            "name: t\nmodels: {m: {backend: local}}\nnodes:\n"
            "  - {kind: lm, id: side, model: m, prompt: x}\n"
            "  - {kind: lm, id: out, model: m, prompt: y, trainable: false}\n"
            "output: out\n"
        ).spec
    )
    text = to_text(network)
    assert "side  lm template=forward@2 model=m trainable [unused]" in text
    assert "out   lm template=forward@2 model=m frozen [output]" in text
    assert "(1 LLM call)" in text


def test_dot_draws_residual_edges_dashed() -> None:
    dot = to_dot(dln2())
    assert dot.startswith('digraph "dln2" {\n')
    assert '"reason" -> "answer";' in dot
    assert '"input" -> "answer" [style=dashed, label="residual"];' in dot
    assert '"answer" [shape=doubleoctagon, label="answer\\nlm"];' in dot
    assert dot.rstrip().endswith("}")


def test_mermaid_uses_neutral_ids_and_labels() -> None:
    mermaid = to_mermaid(dln2())
    lines = mermaid.splitlines()
    assert lines[0] == "flowchart TD"
    assert '  n1["reason<br/>lm"]' in lines
    assert '  n2[["answer<br/>lm"]]' in lines
    assert "  n0 -. residual .-> n2" in lines
    assert "  n1 --> n2" in lines
