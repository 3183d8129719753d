"""Whether llama.cpp may load a model into its "extra" buffer types (weights repacked for the CPU).

On x86, llama.cpp repacks quantised weights into extra buffer types (its AMX buffer on CPUs
with AMX, an AVX repack elsewhere) for faster matrix products. On Intel CPUs with AMX (Sapphire
Rapids and later) its AMX matrix product crashes with SIGSEGV inside `llama_decode` for
Q4_K_M models such as the default Gemma 3 270M: ggml-org/llama.cpp#20824 (open; DSPy's CI hit
the same, stanfordnlp/dspy#10079). Loading with `llama_model_params.use_extra_bufts = False`
avoids it. This module is the one place that decides; `LlamaEngine` applies the decision.

`auto` turns them off only where AMX is present, because elsewhere they are safe and measured
faster (docs/ARCHITECTURE.md gives the figures); `on` and `off` force the choice.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Literal

ExtraBuffers = Literal["auto", "on", "off"]

UNSAFE_CPU_FLAGS = frozenset({"amx_tile", "amx_int8", "amx_bf16"})
"""CPU flags (as /proc/cpuinfo spells them) under which llama.cpp picks its AMX buffer type."""

CPUINFO = Path("/proc/cpuinfo")


def cpu_flags(cpuinfo: Path = CPUINFO) -> frozenset[str]:
    """The CPU's feature flags from the first `flags` line of /proc/cpuinfo (empty elsewhere)."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:  # not Linux, or no /proc: no AMX that we know of
        return frozenset()
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


def use_extra_buffers(setting: ExtraBuffers = "auto", flags: Iterable[str] | None = None) -> bool:
    """Whether to load models with llama.cpp's extra buffer types: `auto` is yes unless the CPU
    has AMX (see the module docstring)."""
    if setting == "on":
        return True
    if setting == "off":
        return False
    found = frozenset(flags) if flags is not None else cpu_flags()
    return not (found & UNSAFE_CPU_FLAGS)
