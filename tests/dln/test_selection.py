"""A network replaces the best on dev only by a gain larger than the noise of the difference."""

from dlngraph.dln.selection import replaces_best


def right_wrong(wins: int, losses: int, same: int = 90) -> tuple[list[float], list[float]]:
    """(new, best) 0/1 losses on one dev set: the new network right on `wins` examples the best
    gets wrong, wrong on `losses` it gets right, and the two alike on `same`."""
    new = [0.0] * wins + [1.0] * losses + [0.0] * same
    best = [1.0] * wins + [0.0] * losses + [0.0] * same
    return new, best


def test_a_gain_of_a_few_examples_among_many_differences_is_noise() -> None:
    assert not replaces_best(*right_wrong(wins=8, losses=5), z=1.645)  # +3 in 100: 3 < 1.645 * sqrt(13)


def test_a_gain_far_beyond_its_differences_replaces_the_best() -> None:
    assert replaces_best(*right_wrong(wins=16, losses=1), z=1.645)  # +15: 15 > 1.645 * sqrt(17)


def test_z_zero_takes_any_gain_as_the_paper_does() -> None:
    assert replaces_best(*right_wrong(wins=8, losses=5), z=0.0)
    assert not replaces_best(*right_wrong(wins=5, losses=5), z=0.0)


def test_a_loss_never_replaces_the_best() -> None:
    assert not replaces_best(*right_wrong(wins=1, losses=10), z=0.0)


def test_graded_losses_use_the_same_rule() -> None:
    assert replaces_best([0.1] * 50, [0.5] * 50, z=1.645)
    assert not replaces_best([0.4, 0.6, 0.5, 0.45], [0.5, 0.5, 0.5, 0.5], z=1.645)
