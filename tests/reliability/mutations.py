"""One way of damaging a good file for the fuzz tests: a few spans cut, doubled or replaced."""

from __future__ import annotations

from typing import TypeVar

from hypothesis import strategies as st

Text = TypeVar("Text", str, bytes)


def mutate(draw: st.DrawFn, content: Text, tokens: st.SearchStrategy[Text], span: int) -> Text:
    """`content` with 1-4 edits of up to `span` characters, inserted pieces drawn from `tokens`."""
    for _ in range(draw(st.integers(1, 4))):
        start = draw(st.integers(0, len(content)))
        end = draw(st.integers(start, min(len(content), start + span)))
        edit = draw(st.sampled_from(["cut", "insert", "replace", "double"]))
        if edit == "cut":
            content = content[:start] + content[end:]
        elif edit == "double":
            content = content[:end] + content[start:end] + content[end:]
        else:
            token = draw(tokens)
            content = content[:start] + token + content[end if edit == "replace" else start:]
    return content
