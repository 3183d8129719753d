"""Model options that only some backends can honour, set where they would be ignored."""

from __future__ import annotations

from dlngraph.spec.errors import Finding
from dlngraph.spec.network import NetworkSpec


def check_model_options(spec: NetworkSpec) -> list[Finding]:
    findings = []
    for name, model in spec.models.items():
        if model.prompts_per_request > 1 and (model.backend != "openai" or model.chat):
            where = "a chat model" if model.backend == "openai" else f"the {model.backend} backend"
            findings.append(Finding(
                ("models", name, "prompts_per_request"),
                f"only an OpenAI-compatible completions endpoint takes several prompts per request,"
                f" and this is {where}; expected 1",
            ))
        if model.extra_buffers != "auto" and model.backend != "local":
            findings.append(Finding(
                ("models", name, "extra_buffers"),
                f"only the local backend loads model weights, and this is the {model.backend} backend;"
                " expected to leave extra_buffers out",
            ))
    return findings
