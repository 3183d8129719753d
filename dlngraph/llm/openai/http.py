"""One HTTP attempt against an OpenAI-compatible server, with every failure sorted into
`TransientError` (worth retrying) or `PermanentError` (not).

The split follows `dlngraph.llm.retry`, which decides what is worth another attempt: a status
in `retryable_status`, and the accidents of the wire (dropped connections, timeouts, bodies
that are not the promised JSON). Error messages name the model, the endpoint and the server's
message, and never the API key: it is scrubbed even from text the server echoes back.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import msgspec
from yarl import URL

from dlngraph.llm.errors import ContextWindowExceeded, PermanentError, TransientError
from dlngraph.llm.retry import retryable_status

JSON_HEADERS = {"Content-Type": "application/json"}
MAX_SERVER_MESSAGE_CHARS = 500

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


class Endpoint:
    """Where a request goes and how errors about it are worded.

    The URL is parsed once, here: aiohttp would otherwise parse the string on every request.
    """

    __slots__ = ("address", "model", "url")

    def __init__(self, *, url: str, model: str) -> None:
        self.url = url
        self.model = model
        self.address = URL(url)

    def describe(self, problem: str) -> str:
        return f"model {self.model!r} at {self.url}: {problem}"


def new_session(*, max_connections: int, timeout: aiohttp.ClientTimeout) -> aiohttp.ClientSession:
    """A session for one backend: JSON by default, and no cookie jar (the APIs set none worth
    keeping, and filtering cookies costs time on every request)."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=max_connections),
        timeout=timeout,
        headers=JSON_HEADERS,
        cookie_jar=aiohttp.DummyCookieJar(),
    )


async def post_json(
    session: aiohttp.ClientSession,
    endpoint: Endpoint,
    payload: dict[str, Any],
    *,
    api_key: str | None,
) -> tuple[dict[str, Any], float]:
    """POST `payload` once; return the decoded JSON object and the latency in seconds.

    `session` should come from `new_session` (it sends the JSON content type)."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
    started = time.perf_counter()
    try:
        async with session.post(endpoint.address, data=_encode(payload), headers=headers) as response:
            raw = await response.read()
            if response.status >= 300:
                raise http_error(endpoint, response.status, response.headers, raw, api_key)
    except TimeoutError as error:
        raise TransientError(endpoint.describe(f"timed out ({type(error).__name__})")) from None
    except aiohttp.ClientError as error:
        problem = redact(f"{type(error).__name__}: {error}", api_key)
        unreachable = isinstance(error, aiohttp.ClientConnectorError)
        dropped = not unreachable and isinstance(error, (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError))
        raise TransientError(endpoint.describe(problem), unreachable=unreachable, dropped=dropped) from None
    latency_s = time.perf_counter() - started
    return decode_object(endpoint, raw), latency_s


def decode_object(endpoint: Endpoint, raw: bytes) -> dict[str, Any]:
    try:
        data = _decode(raw)
    except msgspec.DecodeError:
        raise TransientError(endpoint.describe("response body is not valid JSON")) from None
    if not isinstance(data, dict):
        raise TransientError(endpoint.describe("response body is not a JSON object"))
    return data


def http_error(
    endpoint: Endpoint,
    status: int,
    headers: Mapping[str, str],
    raw: bytes,
    api_key: str | None,
) -> TransientError | PermanentError | ContextWindowExceeded:
    body = _error_body(raw)
    message = truncate(redact(server_message(raw, body), api_key))
    problem = endpoint.describe(f"HTTP {status}: {message}")
    if retryable_status(status):
        return TransientError(problem, retry_after=parse_retry_after(headers), status=status)
    if status == 400 and _over_the_context_window(body, message):
        # The same error a prompt gets when the client sees it cannot fit: the engine then shows
        # fewer demonstrations (engine/node_ops.py) instead of failing the call.
        return ContextWindowExceeded(problem, prompt_tokens=0, context_window=0)
    return PermanentError(problem, status=status, detail=message)


CONTEXT_WINDOW_MESSAGES = ("maximum context length", "context window", "context size", "context length")
"""What servers say when a prompt is over the model's window: OpenAI and vLLM ("This model's
maximum context length is 2048 tokens"), llama.cpp's server ("the request exceeds the available
context size"), llama-cpp-python's ("exceed context window of 2048")."""


def _error_body(raw: bytes) -> dict | None:
    """An error response's body as a JSON object, if it is one."""
    try:
        data = _decode(raw)
    except msgspec.DecodeError:
        return None
    return data if isinstance(data, dict) else None


def _over_the_context_window(body: dict | None, message: str) -> bool:
    """Whether a 400 says the prompt is too long: OpenAI's error code or type, else the message."""
    error = body.get("error") if body is not None else None
    if isinstance(error, dict) and {error.get("code"), error.get("type")} & {"context_length_exceeded", "exceed_context_size_error"}:
        return True
    lowered = message.lower()
    return any(phrase in lowered for phrase in CONTEXT_WINDOW_MESSAGES)


def server_message(raw: bytes, body: dict | None) -> str:
    """The human-readable part of an error body (`body`, `raw` decoded, if a JSON object),
    whichever convention the server follows: OpenAI's {"error": {"message"}}, {"error": "..."},
    FastAPI's {"detail"}, or plain text."""
    if body is not None:
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        for value in (error, body.get("message"), body.get("detail")):
            if isinstance(value, str):
                return value
    text = raw.decode("utf-8", errors="replace").strip()
    return text or "(empty body)"


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait, from OpenAI's `retry-after-ms` or the standard `Retry-After`
    (delay in seconds or an HTTP date); None when absent or unreadable."""
    milliseconds = headers.get("retry-after-ms")
    if milliseconds is not None:
        try:
            return max(0.0, float(milliseconds) / 1000.0)
        except ValueError:
            pass
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


SECRET_SHAPES = re.compile(
    r"(?i)(?P<lead>\bbearer\s+|\b(?:api[_-]?key|x-api-key|authorization|access[_-]?token|token)"
    r"[\"']?\s*[:=]\s*[\"']?(?:bearer\s+)?)(?P<secret>[^\s\"',;}]{8,})"
    r"|(?P<key>\b(?:sk|pk|rk|gsk|hf|xox[abp])[-_][A-Za-z0-9_-]{8,})"
)
"""What a server's echo of a credential looks like: `Bearer X`, `api_key: X`, `token=X`, and
keys of the common `sk-...` shapes, whatever key this client sent."""


def redact(text: str, secret: str | None) -> str:
    """`text` without `secret`, nor anything shaped like a bearer token or an API key (a server
    may echo another credential than ours, e.g. a proxy's)."""
    if secret:
        text = text.replace(secret, "***")
    return SECRET_SHAPES.sub(_hide, text)


def _hide(match: re.Match[str]) -> str:
    return "***" if match["key"] else f"{match['lead']}***"


def truncate(text: str) -> str:
    if len(text) <= MAX_SERVER_MESSAGE_CHARS:
        return text
    return text[:MAX_SERVER_MESSAGE_CHARS] + "..."
