"""Helpers shared by engine and trainer tests: specs from text, models on a scripted server."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import NamedTuple

from dlngraph.graph import CompiledNetwork, compile_network
from dlngraph.llm.client import LanguageModel
from dlngraph.llm.openai.backend import OpenAIBackend
from dlngraph.spec import load_spec, load_spec_text
from dlngraph.spec.models import Limits
from dlngraph.testing.server import ScriptedServer

SPECS_DIR = Path(__file__).resolve().parents[1] / "specs"

DLN1 = """
name: dln1
models:
  m: {backend: openai, base_url: "http://127.0.0.1:9/v1"}
  back: {backend: openai, base_url: "http://127.0.0.1:9/v1", sampling: {temperature: 0.7}}
nodes:
  - {kind: lm, id: answer, model: m, template: classify, prompt: "CURRENT", classes: ["Yes|yes", "No|no"]}
output: answer
"""
"""One classifier whose prompt starts as CURRENT; `back` is a warm backward model."""


class Example(NamedTuple):
    """What the trainer needs of an example."""

    input: str
    target: str


def network_from_text(text: str) -> CompiledNetwork:
    return compile_network(load_spec_text(textwrap.dedent(text).lstrip("\n")).spec)


def shipped_network(name: str) -> CompiledNetwork:
    return compile_network(load_spec(SPECS_DIR / f"{name}.yaml").spec)


def scripted_models(network: CompiledNetwork, server: ScriptedServer, *, concurrency: int = 1024) -> dict[str, LanguageModel]:
    """Every model of the spec, pointed at the scripted server through the real HTTP client."""
    backend = OpenAIBackend(base_url=server.base_url, model=server.model, max_connections=concurrency)
    limits = Limits(max_concurrency=concurrency, max_attempts=2)
    return {name: LanguageModel(name, backend, limits=limits) for name in network.spec.models}


async def close_models(models: dict[str, LanguageModel]) -> None:
    for backend in {id(model.backend): model.backend for model in models.values()}.values():
        await backend.aclose()
