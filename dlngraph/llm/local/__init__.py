"""The embedded llama.cpp backend, dlngraph's offline default.

`backend` the backend, `worker` the one thread that makes every llama.cpp call of a model,
`engine` KV-cache reuse and target-only log-softmax, `buffers` whether llama.cpp may use its
extra buffer types on this CPU. llama-cpp-python is imported only when a model is loaded.
"""

from dlngraph.llm.local.backend import LocalBackend

__all__ = ["LocalBackend"]
