"""Errors of the LLM layer, split by what the caller should do about them."""

from __future__ import annotations


class LLMError(Exception):
    """Base of every error raised by the LLM layer."""


class TransientError(LLMError):
    """Worth another attempt: 429, 5xx, connection reset, timeout, malformed body.

    `retry_after` is the server's Retry-After in seconds when it sent one. `status` (the HTTP
    status), `unreachable` (no connection could be made) and `dropped` (the connection broke)
    tell an endpoint pool whether the server, rather than the request, failed.
    """

    def __init__(
        self, message: str, *, retry_after: float | None = None, status: int | None = None,
        unreachable: bool = False, dropped: bool = False,
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status
        self.unreachable = unreachable
        self.dropped = dropped


class PermanentError(LLMError):
    """Not worth retrying (4xx other than 429): names the model, endpoint and server message.

    `status` and `detail` (the server's own message) are set for HTTP errors, so that a caller
    can read what the server refused (`openai.parse.logprobs_cap`)."""

    def __init__(self, message: str, *, status: int | None = None, detail: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


class RetriesExhausted(LLMError):
    """Every allowed attempt failed with a transient error or was refused a setting (`SendAgain`);
    the last error is `__cause__`."""


class BudgetExceeded(LLMError):
    """The run's call or token ceiling would be passed by this request; nothing was sent."""


class ContextWindowExceeded(LLMError):
    """The prompt does not fit the model's context window; nothing was sent."""

    def __init__(self, message: str, *, prompt_tokens: int, context_window: int) -> None:
        super().__init__(message)
        self.prompt_tokens = prompt_tokens
        self.context_window = context_window


class SendAgain(LLMError):
    """The server refused a setting that the backend has now lowered to what it allows (the top
    logprobs of a class distribution): send the same call again at once, with no backoff. It is
    an attempt like any other (`dlngraph.llm.retry.Retry` caps both): the refused request counts
    as sent and the new one as a retry, so that requests minus retries stays the number of calls
    sent (what the budget charges)."""


class UnsupportedRequest(LLMError):
    """The backend cannot answer this kind of request (e.g. echo scoring on a chat-only model)."""
