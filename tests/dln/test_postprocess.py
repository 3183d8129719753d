import pytest

from dlngraph.data import Example
from dlngraph.dln.postprocess import accuracy, example_loss, normalize_answer


def example(target: str) -> Example:
    return Example(input="a question", target=target, id="train:1")


def test_normalize_follows_the_papers_rules():
    assert normalize_answer("Yes, because the walker returns.") == "yes"
    assert normalize_answer("  (A) ") == "a"
    assert normalize_answer("Option B") == "b"
    assert normalize_answer("") == ""


def test_exact_match_and_number_presence():
    assert example_loss("yes", example("Yes")) == 0.0
    assert example_loss("No.", example("Yes")) == 1.0
    assert example_loss(None, example("Yes")) == 1.0
    assert example_loss("The answer is 1,024 apples", example("1024"), "number_presence") == 0.0
    assert example_loss("The answer is 12", example("13"), "number_presence") == 1.0
    assert accuracy(["yes", "no", "yes"], [example("Yes")] * 3) == pytest.approx(2 / 3)
