"""When the embedded backend lets llama.cpp use its extra buffer types (llama.cpp#20824)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlngraph.llm.local.buffers import cpu_flags, use_extra_buffers
from dlngraph.spec import SpecError, load_spec_text

SAPPHIRE_RAPIDS = "fpu vme avx2 avx512f amx_bf16 avx512_fp16 amx_tile amx_int8"
EPYC = "fpu vme avx2 avx512f avx512_bf16 avx512_vnni"


def cpuinfo(tmp_path: Path, flags: str) -> Path:
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: {flags}\n\nprocessor\t: 1\nflags\t\t: {flags}\n")
    return path


def test_the_flags_come_from_proc_cpuinfo(tmp_path: Path) -> None:
    assert cpu_flags(cpuinfo(tmp_path, SAPPHIRE_RAPIDS)) >= {"amx_tile", "amx_int8", "avx2"}
    assert cpu_flags(tmp_path / "missing") == frozenset()  # not Linux: no AMX known


@pytest.mark.parametrize(("flags", "expected"), [(SAPPHIRE_RAPIDS, False), (EPYC, True), ("amx_tile", False), ("", True)])
def test_auto_turns_them_off_only_where_amx_is(flags: str, expected: bool) -> None:
    assert use_extra_buffers("auto", flags.split()) is expected


@pytest.mark.parametrize("flags", [SAPPHIRE_RAPIDS, EPYC])
def test_on_and_off_force_the_choice(flags: str) -> None:
    assert use_extra_buffers("on", flags.split()) is True
    assert use_extra_buffers("off", flags.split()) is False


def test_this_machine_is_read_when_no_flags_are_given() -> None:
    assert use_extra_buffers() is not bool(cpu_flags() & {"amx_tile", "amx_int8", "amx_bf16"})


SPEC = """\
name: x
models:
  m: {backend: %s, extra_buffers: %s}
nodes:
  - {kind: lm, id: a, model: m, prompt: p, classes: [Yes, No]}
output: a
"""


def test_a_spec_may_force_it_on_a_local_model_only() -> None:
    assert load_spec_text(SPEC % ("local", "off")).spec.models["m"].extra_buffers == "off"
    with pytest.raises(SpecError, match=r"models\.m\.extra_buffers.*only the local backend loads model weights"):
        load_spec_text(SPEC % ("openai", "off"))
    with pytest.raises(SpecError, match=r"extra_buffers.*auto.*on.*off"):
        load_spec_text(SPEC % ("local", "sometimes"))


@pytest.mark.parametrize(("setting", "expected"), [("off", False), ("on", True)])
def test_the_llama_server_launcher_loads_models_as_dlngraph_would(
    setting: str, expected: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """llama_cpp.server's models get `use_extra_bufts` from `dlngraph.llm.local.buffers` (llama.cpp#20824)."""
    pytest.importorskip("llama_cpp")
    from tests.llm.local import llama_server_launcher

    monkeypatch.setenv("DLNGRAPH_EXTRA_BUFFERS", setting)
    assert llama_server_launcher._safe_model_params().use_extra_bufts is expected
