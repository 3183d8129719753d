"""The OpenAI-compatible HTTP backend on aiohttp: OpenAI, vLLM, llama.cpp's server.

`backend` the backend, `http` the session and error replies, `parse` the response bodies,
`batch` several prompts in one `/completions` request, `endpoints` a model's replicas.
"""

from dlngraph.llm.openai.backend import OpenAIBackend

__all__ = ["OpenAIBackend"]
