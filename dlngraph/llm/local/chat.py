"""Chat templates for the embedded model: a request's text as the one user message of the
conversation the GGUF file's own template (`tokenizer.chat_template`) writes, ending where the
model's answer begins, as an OpenAI-compatible server's `/chat/completions` does.

The template is rendered by llama-cpp-python's `Jinja2ChatFormatter` (what `Llama` uses for
the same metadata) around a marker, once per model: the markup before and after the marker is
the template's, tokenised with its special tokens (`<|im_start|>`, `<start_of_turn>`, a `<bos>`
the template writes itself); the request's text in between stays plain text, so markup in a
prompt or an example is never read as a special token. What the model generates, scores or
distributes over classes follows the wrapped prompt: a score is log p(target | wrapped context),
the target being the start of the model's answer, and a class distribution is that of the
answer's first token (the chat endpoint's `top_logprobs`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dlngraph.llm.errors import PermanentError

if TYPE_CHECKING:
    from dlngraph.llm.local.engine import LlamaEngine

TEMPLATE_KEY = "tokenizer.chat_template"
_MESSAGE = "\ue000dlngraph-message\ue000"
"""Stands for the request's text while the template is rendered (no template writes it)."""


@dataclass(frozen=True)
class ChatWrapper:
    """The template's markup around one user message (see the module docstring)."""

    before: str
    """From the start of the conversation to the user's message."""
    after: str
    """From the end of the user's message to the start of the model's answer."""

    @classmethod
    def of(cls, engine: LlamaEngine, model_name: str) -> ChatWrapper:
        """The wrapper of the engine's model; a `PermanentError` when its file has no chat
        template, or one that does not show a user message once."""
        template = engine.metadata().get(TEMPLATE_KEY)
        if not template:
            raise PermanentError(f"local:{model_name}: `chat: true`, but the model file has no chat template"
                                 f" ({TEMPLATE_KEY}); leave `chat` out to send prompts as they are")
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        bos, eos = engine.bos_eos_texts()
        formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos, add_generation_prompt=True)
        rendered = formatter(messages=[{"role": "user", "content": _MESSAGE}]).prompt
        before, found, after = rendered.partition(_MESSAGE)
        if not found or _MESSAGE in after:
            raise PermanentError(f"local:{model_name}: its chat template does not write the user's message once")
        return cls(before=before, after=after)

    def text(self, prompt: str) -> str:
        """The wrapped prompt as text (what the model reads, markup included)."""
        return f"{self.before}{prompt}{self.after}"

    def tokens(self, engine: LlamaEngine, prompt: str) -> list[int]:
        """The wrapped prompt's tokens: the markup's special tokens parsed, the prompt's not
        (the template writes the beginning-of-sequence token itself when the model has one)."""
        return [
            *engine.tokenize(self.before, bos=False, special=True),
            *engine.tokenize(prompt, bos=False),
            *engine.tokenize(self.after, bos=False, special=True),
        ]
