"""How numbers read in reports and tables: one place, so every view writes them alike."""

from __future__ import annotations

MISSING = "–"
"""What a cell shows for a value the run did not record."""


def accuracy(value: float | None) -> str:
    """0.8333 -> '83.3%'."""
    return MISSING if value is None else f"{value:.1%}"


def count(value: float | None) -> str:
    """12345 -> '12,345'."""
    return MISSING if value is None else f"{round(value):,}"


def score(value: float | None) -> str:
    """Log-likelihood-like numbers (ELBO, penalty, score): three decimals."""
    return MISSING if value is None else f"{value:.3f}"


def duration(seconds: float | None) -> str:
    """62.5 -> '1 min 2 s'; short durations keep a decimal."""
    if seconds is None:
        return MISSING
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"
