"""The LLM layer: every call a training step makes, from request to result.

The pipeline (`client.LanguageModel`): context-window check, cache (`cache`), in-flight
deduplication, budget (`budget`), concurrency slots and rate limits (`limits`), retries
(`retry`), accounting (`accounting`), then a backend. A backend answers the request types of
`types` (`Backend`, the protocol): `openai/` any OpenAI-compatible server, `local/` the
embedded llama.cpp model. `pool` builds a spec's models; `cluster/` shares limits and a budget
across a Ray cluster.
"""
