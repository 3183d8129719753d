"""Output classes of a scored node: each entry is `label|verbalizer|...`.

`Yes|yes` is the class labelled `Yes`, recognised when the model says `Yes` or `yes`; the
label itself is always the first verbalizer.
"""

from __future__ import annotations


def parse_class(entry: str) -> tuple[str, ...]:
    """`"Yes|yes"` -> `("Yes", "yes")`; surrounding spaces are kept (they matter to tokens)."""
    return tuple(entry.split("|"))


def parse_classes(entries: list[str]) -> tuple[tuple[str, ...], ...]:
    """One tuple of verbalizers per class, the label first (as `ClassDistributionRequest` wants)."""
    return tuple(parse_class(entry) for entry in entries)


def class_labels(entries: list[str]) -> list[str]:
    return [parse_class(entry)[0] for entry in entries]
