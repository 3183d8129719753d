import pytest

from dlngraph.dln.postprocess import accuracy, example_loss, normalize_answer


def test_normalize_follows_the_papers_rules():
    assert normalize_answer("Yes, because the walker returns.") == "yes"
    assert normalize_answer("  (A) ") == "a"
    assert normalize_answer("Option B") == "b"
    assert normalize_answer("") == ""


def test_exact_match_and_number_presence():
    assert example_loss("yes", "Yes") == 0.0
    assert example_loss("No.", "Yes") == 1.0
    assert example_loss(None, "Yes") == 1.0
    assert example_loss("The answer is 1,024 apples", "1024", "number_presence") == 0.0
    assert example_loss("The answer is 12", "13", "number_presence") == 1.0
    assert accuracy(["yes", "no", "yes"], ["Yes", "Yes", "Yes"]) == pytest.approx(2 / 3)
