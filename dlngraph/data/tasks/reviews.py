"""`reviews`: say whether a product review's author is, on the whole, satisfied.

"The blender's motor was powerful, but the lid was flimsy. I would buy it again." -> positive.

Most reviews (`mixed_share`) praise one aspect and criticise another, so the words of the
aspects do not give the answer away: the reviewer's verdict does ("I would buy it again.", "I
am sending it back."), at the end of the review or, with `verdict_first_share`, at its start.
The answer is exact by construction: the verdict sentence is drawn from the label's list.
"""

from __future__ import annotations

import random

import msgspec

from dlngraph.data.tasks.base import Task

PRODUCTS: dict[str, tuple[str, ...]] = {
    "blender": ("motor", "lid", "jug", "noise level"),
    "laptop": ("screen", "keyboard", "battery", "speakers"),
    "tent": ("zipper", "fabric", "poles", "set-up"),
    "coffee maker": ("carafe", "timer", "filter", "heating plate"),
    "backpack": ("straps", "zips", "pockets", "stitching"),
    "hotel room": ("bed", "shower", "view", "air conditioning"),
    "vacuum cleaner": ("suction", "cord", "filter", "brush"),
    "pair of headphones": ("sound", "ear pads", "cable", "microphone"),
    "kettle": ("handle", "switch", "spout", "lid"),
    "desk chair": ("seat", "armrests", "wheels", "backrest"),
    "phone": ("camera", "battery", "screen", "charger"),
    "bicycle": ("brakes", "gears", "saddle", "tyres"),
    "toaster": ("slots", "timer", "crumb tray", "buttons"),
    "rain jacket": ("hood", "zip", "lining", "pockets"),
}

PRAISE = ("excellent", "sturdy", "comfortable", "well made", "quiet", "reliable", "impressive",
          "solid", "easy to use", "great", "lovely", "surprisingly good")
COMPLAINTS = ("flimsy", "noisy", "uncomfortable", "cheaply made", "disappointing", "unreliable",
              "awkward", "useless", "poor", "fiddly", "loose", "badly designed")

VERDICTS: dict[str, tuple[str, ...]] = {
    "positive": ("I would buy it again.", "Overall I am happy with it.", "It was worth the money.",
                 "I would recommend it to a friend.", "Five stars from me.", "I am keeping it.",
                 "All in all, a good purchase.", "It does exactly what I need."),
    "negative": ("I am sending it back.", "Overall I regret buying it.", "It was not worth the money.",
                 "I would not recommend it to anyone.", "One star from me.", "I want a refund.",
                 "All in all, a bad purchase.", "It does not do what I need."),
}


class ReviewsParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Difficulty knobs: how often the aspects disagree with the verdict, where the verdict is."""

    mixed_share: float = 0.8
    """Share of reviews with one praised and one criticised aspect (the rest agree with the verdict)."""
    verdict_first_share: float = 0.3
    """Share of reviews that give the verdict before the aspects."""

    def __post_init__(self) -> None:
        for name in ("mixed_share", "verdict_first_share"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be from 0 to 1, found {value}")


class Reviews(Task):
    name = "reviews"
    Params = ReviewsParams
    params: ReviewsParams

    @property
    def instruction(self) -> str:
        return "Is the reviewer satisfied overall? Answer positive or negative."

    def labels(self) -> list[str]:
        return ["positive", "negative"]

    def sample(self, rng: random.Random, label: str) -> str:
        product = rng.choice(sorted(PRODUCTS))
        first, second = rng.sample(PRODUCTS[product], 2)
        if rng.random() < self.params.mixed_share:
            good, bad = rng.choice(PRAISE), rng.choice(COMPLAINTS)
            aspects = _contrast(product, (first, good), (second, bad), rng)
        else:
            words = PRAISE if label == "positive" else COMPLAINTS
            aspects = (f"The {product}'s {first} {_be(first)} {rng.choice(words)} and its {second} {_be(second)}"
                       f" {rng.choice(words)}.")
        verdict = rng.choice(VERDICTS[label])
        return f"{verdict} {aspects}" if rng.random() < self.params.verdict_first_share else f"{aspects} {verdict}"


def _contrast(product: str, good: tuple[str, str], bad: tuple[str, str], rng: random.Random) -> str:
    """One sentence that praises one aspect and criticises another, in either order."""
    (first, first_word), (second, second_word) = (good, bad) if rng.random() < 0.5 else (bad, good)
    joiner = rng.choice(("but", "although", "while"))
    return f"The {product}'s {first} {_be(first)} {first_word}, {joiner} the {second} {_be(second)} {second_word}."


def _be(aspect: str) -> str:
    """"was" or "were": the aspects ending in s are plural ("the brakes were")."""
    return "were" if aspect.endswith("s") else "was"
