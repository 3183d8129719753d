"""The one rule that turns the next token's top logprobs into class probabilities (both backends
apply it: the parity of the two is checked in tests/llm/openai/test_llama_cpp_server.py)."""

from __future__ import annotations

import math

import pytest

from dlngraph.llm.class_probs import class_probabilities

YES_NO = (("Yes", "yes"), ("No", "no"))


def lp(probability: float) -> float:
    return math.log(probability)


def test_a_class_s_tokens_add_up_and_the_mass_outside_every_class_is_left_out() -> None:
    top = [(" Yes", lp(0.4)), ("Yes", lp(0.1)), (" no", lp(0.2)), (" The", lp(0.25))]
    assert class_probabilities(top, YES_NO) == pytest.approx({"Yes": 0.5 / 0.7, "No": 0.2 / 0.7})


def test_a_token_counts_when_it_begins_one_class_s_verbalizer_whitespace_aside() -> None:
    """Case-sensitive; "N" begins "No", "Not" begins nothing; "\\nYes" is "Yes"."""
    top = [("\nYes", lp(0.3)), ("N", lp(0.1)), (" Not", lp(0.2)), (" YES", lp(0.15)), (" ", lp(0.1))]
    assert class_probabilities(top, YES_NO) == pytest.approx({"Yes": 0.75, "No": 0.25})


def test_a_verbalizer_of_several_tokens_counts_through_its_first_token() -> None:
    classes = (("sarcastic",), ("sincere",))
    top = [(" sarc", lp(0.3)), (" sin", lp(0.1)), (" s", lp(0.2))]  # " s" begins both: no class
    assert class_probabilities(top, classes) == pytest.approx({"sarcastic": 0.75, "sincere": 0.25})


def test_a_token_that_begins_several_classes_counts_for_none() -> None:
    classes = (("(A)", "a", "A"), ("(B)", "b", "B"))
    top = [(" (", lp(0.6)), (" A", lp(0.2)), ("b", lp(0.1))]
    assert class_probabilities(top, classes) == pytest.approx({"(A)": 2 / 3, "(B)": 1 / 3})


def test_an_absent_class_gets_the_smallest_listed_probability() -> None:
    classes = (("positive",), ("negative",), ("neutral",))
    top = [(" positive", lp(0.5)), (" negative", lp(0.3)), (" great", lp(0.02))]
    assert class_probabilities(top, classes) == pytest.approx(
        {"positive": 0.5 / 0.82, "negative": 0.3 / 0.82, "neutral": 0.02 / 0.82})


def test_a_text_listed_twice_keeps_its_last_logprob_as_a_json_object_would() -> None:
    top = [(" Yes", lp(0.5)), (" No", lp(0.3)), (" Yes", lp(0.1))]
    assert class_probabilities(top, YES_NO) == pytest.approx({"Yes": 0.25, "No": 0.75})


def test_nothing_listed_gives_a_uniform_distribution() -> None:
    assert class_probabilities([], YES_NO) == {"Yes": 0.5, "No": 0.5}
