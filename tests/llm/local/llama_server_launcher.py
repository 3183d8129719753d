"""`python -m tests.llm.local.llama_server_launcher [llama_cpp.server options]`: llama-cpp-python's
OpenAI-compatible server, loading its model safely on CPUs with AMX.

llama_cpp.server builds its models with `llama_cpp.Llama`, whose settings cannot turn off
llama.cpp's extra buffer types, and their AMX matrix product crashes there
(ggml-org/llama.cpp#20824, see dlngraph/llm/local/buffers.py). `Llama` takes its model
parameters from `llama_cpp.llama_cpp.llama_model_default_params()` when it is built, so this
launcher replaces that function with one that sets `use_extra_bufts` as dlngraph's own
backend would (`DLNGRAPH_EXTRA_BUFFERS=auto|on|off`, default auto), then runs the server's
own `main`. Nothing else of the server changes.
"""

from __future__ import annotations

import os

import llama_cpp.llama_cpp as bindings

from dlngraph.llm.local.buffers import use_extra_buffers

_defaults = bindings.llama_model_default_params


def _safe_model_params():  # type: ignore[no-untyped-def]
    params = _defaults()
    params.use_extra_bufts = use_extra_buffers(os.environ.get("DLNGRAPH_EXTRA_BUFFERS", "auto"))  # type: ignore[arg-type]
    return params


def main() -> None:
    bindings.llama_model_default_params = _safe_model_params
    from llama_cpp.server.__main__ import main as serve

    serve()


if __name__ == "__main__":
    main()
