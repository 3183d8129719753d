"""The rules a test writes to make the scripted server answer what it needs.

A `Script` holds ordered regex rules, one list per kind of answer; the first matching rule of a
kind wins, and whatever no rule covers falls back to the deterministic defaults of
`model`. Patterns are compiled once, when the rule is added, with `re.search`
semantics and no flags (write `(?s)` to let `.` cross newlines).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AnswerRule:
    pattern: re.Pattern[str]
    texts: tuple[str, ...]
    """One text, or alternatives picked by the request's seed (see `Script.answer`)."""


@dataclass(frozen=True, slots=True)
class LogprobRule:
    context_pattern: re.Pattern[str]
    target: str
    per_token: float


@dataclass(frozen=True, slots=True)
class ClassRule:
    pattern: re.Pattern[str]
    top_logprobs: tuple[tuple[str, float], ...]
    """Token and log-probability pairs, most likely first."""


@dataclass(frozen=True, slots=True)
class FailRule:
    pattern: re.Pattern[str]
    status: int
    message: str


@dataclass(frozen=True, slots=True)
class ScoredTarget:
    """Where the scripted target of an echoed prompt starts, and the logprob of its tokens."""

    start: int
    per_token: float


class Script:
    """Deterministic answers keyed by regexes on the prompt (or the last chat message)."""

    def __init__(self) -> None:
        self._answers: list[AnswerRule] = []
        self._logprobs: list[LogprobRule] = []
        self._classes: list[ClassRule] = []
        self._failures: list[FailRule] = []

    def answer(self, pattern: str, text: str, *alternatives: str) -> Script:
        """Complete prompts matching `pattern` with `text`.

        With alternatives, the answer is `texts[seed % len(texts)]`: a sampler that gives
        its k-th draw the seed `base + k` sees every alternative once per `len(texts)` draws,
        deterministically, as posterior sampling and prompt proposals do."""
        self._answers.append(AnswerRule(re.compile(pattern), (text, *alternatives)))
        return self

    def logprob(self, pattern: str, target: str, per_token: float) -> Script:
        """Give each token of `target` the logprob `per_token` when an echoed prompt ends with
        `target` and the context before it matches `pattern` (what echo scoring reads)."""
        self._logprobs.append(LogprobRule(re.compile(pattern), target, per_token))
        return self

    def class_logprobs(self, pattern: str, logprobs: dict[str, float]) -> Script:
        """Top logprobs of the first generated token for matching prompts (what class
        distributions read); unless an answer rule matches too, the most likely token is
        also the generated text."""
        ranked = tuple(sorted(logprobs.items(), key=lambda item: item[1], reverse=True))
        self._classes.append(ClassRule(re.compile(pattern), ranked))
        return self

    def fail(self, pattern: str, status: int = 400, message: str = "Scripted failure.") -> Script:
        """Answer matching prompts with an OpenAI-style error (e.g. 400 or 404)."""
        self._failures.append(FailRule(re.compile(pattern), status, message))
        return self

    def answer_for(self, prompt: str, seed: int = 0) -> str | None:
        for rule in self._answers:
            if rule.pattern.search(prompt):
                return rule.texts[seed % len(rule.texts)]
        return None

    def class_logprobs_for(self, prompt: str) -> tuple[tuple[str, float], ...] | None:
        for rule in self._classes:
            if rule.pattern.search(prompt):
                return rule.top_logprobs
        return None

    def failure_for(self, prompt: str) -> FailRule | None:
        for rule in self._failures:
            if rule.pattern.search(prompt):
                return rule
        return None

    def scored_target_for(self, prompt: str) -> ScoredTarget | None:
        for rule in self._logprobs:
            if not prompt.endswith(rule.target):
                continue
            start = len(prompt) - len(rule.target)
            # endpos restricts the search to the context without copying it.
            if rule.context_pattern.search(prompt, 0, start):
                return ScoredTarget(start, rule.per_token)
        return None
