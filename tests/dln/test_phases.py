"""Phases are one enum: a misspelt phase is an error, and the strings stay those of the logs."""

from __future__ import annotations

import pytest

from dlngraph.dln.phases import Phase
from dlngraph.dln.plan import PHASES
from dlngraph.dln.priorities import BULK, URGENT, priority_of, step_tag


def test_a_misspelt_phase_is_an_error_not_an_urgent_call() -> None:
    with pytest.raises(KeyError):
        priority_of("scores")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Phase("sharpenning")


def test_only_candidate_scores_are_bulk() -> None:
    assert {phase: priority_of(phase) for phase in Phase} == {
        phase: BULK if phase == "score" else URGENT for phase in Phase
    }


def test_phases_are_the_strings_tags_usage_and_events_always_held() -> None:
    tag = step_tag("answer", Phase.SHARPENING)
    assert tag.phase == "sharpening" and f"{tag.phase}" == "sharpening"
    assert [str(phase) for phase in PHASES] == ["forward", "posterior", "sharpening", "proposal", "score", "validation"]
