"""Model options that only some backends can honour, set where they would be ignored."""

from __future__ import annotations

from dlngraph.spec.errors import Finding
from dlngraph.spec.models import ModelSpec
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
        findings += _endpoint_findings(name, model)
    return findings


def _endpoint_findings(name: str, model: ModelSpec) -> list[Finding]:
    """An endpoint pool is given one way, has replicas, and is an OpenAI-compatible model's."""
    pool = model.endpoints or isinstance(model.base_url, tuple)
    if model.endpoints and model.base_url is not None:
        return [Finding(("models", name, "endpoints"), "give the replicas either as endpoints or as base_url, not both")]
    if isinstance(model.base_url, tuple) and not model.base_url:
        return [Finding(("models", name, "base_url"), "expected at least one URL")]
    if pool and model.backend != "openai":
        return [Finding(("models", name, "endpoints" if model.endpoints else "base_url"),
                        f"only an OpenAI-compatible model has endpoints, and this is the {model.backend} backend")]
    return []
