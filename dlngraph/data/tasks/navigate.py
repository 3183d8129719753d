"""`navigate`: follow walking instructions, then say whether you are back at the start.

The BIG-Bench-Hard task, generated: "If you follow these instructions, do you return to the
starting point? Always face forward. Take 3 steps left. ...\\nOptions:\\n- Yes\\n- No".

Two styles, as in BBH. "Always face forward." fixes the heading, and every move names its
direction (forward, backward, left, right). With `allow_turns`, half the examples instead
turn ("Turn left.", "Turn right.", "Turn around.") and walk where they face ("Take 2 steps.").

A "Yes" example is a random walk closed by the moves that bring the walker home; a "No"
example is a random walk that happens not to end at the start.
"""

from __future__ import annotations

import random
import re
from typing import Literal

import msgspec

from dlngraph.data.errors import DataError
from dlngraph.data.options import with_options
from dlngraph.data.tasks.base import Task

QUESTION = "If you follow these instructions, do you return to the starting point?"
Style = Literal["face_forward", "turning"]
Vector = tuple[int, int]

NORTH: Vector = (0, 1)
_TURN_SHARE = 1 / 3
"""Share of turns among a turning walk's instructions."""
_MAX_CLOSING: dict[Style, int] = {"face_forward": 2, "turning": 4}
"""Most instructions the way home takes: one move per axis, each maybe after a turn."""
_SENTENCE = re.compile(r"[^.]*[^.\s][^.]*\.")
_TURN = re.compile(r"\s*Turn (left|right|around)\.")
_MOVE = re.compile(r"\s*Take (\d+) steps?(?: (forward|backward|left|right))?\.")
_ATTEMPTS = 200
_SHORTEST_TURNING = 3
"""A turning walk home needs a move, a turn and a move back."""


class NavigateParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Difficulty knobs. A step here is one instruction sentence, a move's length is its distance."""

    min_steps: int = 3
    max_steps: int = 8
    max_distance: int = 10
    """Most steps one move takes ("Take 10 steps.")."""
    allow_turns: bool = True
    """Mix in walks that turn and move relative to the heading, as BBH does."""

    def __post_init__(self) -> None:
        if self.min_steps < 2:
            raise ValueError(f"min_steps must be at least 2 (a single move never returns), found {self.min_steps}")
        if self.max_steps < self.min_steps:
            raise ValueError(f"max_steps ({self.max_steps}) must be at least min_steps ({self.min_steps})")
        if self.max_distance < 1:
            raise ValueError(f"max_distance must be at least 1, found {self.max_distance}")


class Instruction(msgspec.Struct, frozen=True):
    """One sentence: a turn ("left", "right", "around") or a move of `distance` steps."""

    turn: str | None = None
    direction: str | None = None
    """"forward", "backward", "left", "right", or None for a bare "Take 3 steps." (forward)."""
    distance: int = 0

    def text(self) -> str:
        if self.turn is not None:
            return f"Turn {self.turn}."
        unit = "step" if self.distance == 1 else "steps"
        where = f" {self.direction}" if self.direction else ""
        return f"Take {self.distance} {unit}{where}."


class Walker(msgspec.Struct):
    """Where the walker stands and which way it faces."""

    position: Vector = (0, 0)
    heading: Vector = NORTH

    def follow(self, instruction: Instruction) -> None:
        if instruction.turn is not None:
            self.heading = relative(self.heading, instruction.turn)
        else:
            step = relative(self.heading, instruction.direction or "forward")
            x, y = self.position
            self.position = (x + step[0] * instruction.distance, y + step[1] * instruction.distance)


def relative(heading: Vector, direction: str) -> Vector:
    """The unit vector `direction` ("forward", "left", "around", ...) of a walker facing `heading`."""
    x, y = heading
    return {
        "forward": (x, y),
        "backward": (-x, -y),
        "around": (-x, -y),
        "left": (-y, x),
        "right": (y, -x),
    }[direction]


def walk_ends_home(instructions: list[Instruction]) -> bool:
    """The exact answer: does following `instructions` from the origin end at the origin?"""
    walker = Walker()
    for instruction in instructions:
        walker.follow(instruction)
    return walker.position == (0, 0)


def read_walk(text: str) -> list[Instruction]:
    """The instructions of a navigate question, ours or BBH's, so its answer can be checked.

    "Always face forward." adds nothing: such walks never turn, and every move names its direction.
    """
    body = text.partition("\n")[0].removeprefix(QUESTION).replace("Always face forward.", "")
    walk = []
    for sentence in _SENTENCE.findall(body):
        if turn := _TURN.fullmatch(sentence):
            walk.append(Instruction(turn=turn.group(1)))
        elif move := _MOVE.fullmatch(sentence):
            walk.append(Instruction(direction=move.group(2), distance=int(move.group(1))))
        else:
            raise ValueError(f"not a navigate instruction: {sentence!r}")
    return walk


def answer(text: str) -> str:
    """The gold answer of a navigate question: "Yes" when its walk ends where it started."""
    return "Yes" if walk_ends_home(read_walk(text)) else "No"


class Navigate(Task):
    name = "navigate"
    Params = NavigateParams
    params: NavigateParams

    @property
    def instruction(self) -> str:
        return "Read the following sentence, then determine whether you return to the starting point."

    def labels(self) -> list[str]:
        return ["Yes", "No"]

    def sample(self, rng: random.Random, label: str) -> str:
        style: Style = "turning" if self._turns_possible() and rng.random() < 0.5 else "face_forward"
        walk = self._homecoming_walk(rng, style) if label == "Yes" else self._wandering_walk(rng, style)
        opening = [QUESTION] + (["Always face forward."] if style == "face_forward" else [])
        sentences = opening + [instruction.text() for instruction in walk]
        return with_options(" ".join(sentences), self.labels(), "words")

    def _wandering_walk(self, rng: random.Random, style: Style) -> list[Instruction]:
        """A random walk that does not end at the start."""
        for _ in range(_ATTEMPTS):
            walk = [self._random_instruction(rng, style) for _ in range(self._length(rng, style))]
            if not walk_ends_home(walk):
                return walk
        raise self._infeasible("away from home")

    def _homecoming_walk(self, rng: random.Random, style: Style) -> list[Instruction]:
        """A walk ending at the start: a random walk, then the way home.

        A turning walk ends with a turn as often as a random one does, so the last sentence
        gives the answer away no more than it does for "No" walks.
        """
        for _ in range(_ATTEMPTS):
            length = self._length(rng, style)
            final_turn = style == "turning" and rng.random() < _TURN_SHARE  # turning walks have 3+ steps
            body = length - final_turn
            closing_size = rng.randint(1, min(_MAX_CLOSING[style], body - 1))
            start = [self._random_instruction(rng, style) for _ in range(body - closing_size)]
            closing = self._way_home(rng, style, start)
            if closing is not None and len(closing) == closing_size:
                walk = start + closing
                if style == "face_forward":  # moves commute: hide where the way home begins
                    rng.shuffle(walk)
                return walk + ([self._random_turn(rng)] if final_turn else [])
        raise self._infeasible("back home")

    def _turns_possible(self) -> bool:
        """Whether turning walks are on and long enough to come home ("Take 1 step. Turn around. Take 1 step.")."""
        return self.params.allow_turns and self.params.max_steps >= _SHORTEST_TURNING

    def _length(self, rng: random.Random, style: Style) -> int:
        """A walk length; turning walks of both answers share the same lower bound, so length gives nothing away."""
        shortest = max(self.params.min_steps, _SHORTEST_TURNING) if style == "turning" else self.params.min_steps
        return rng.randint(shortest, self.params.max_steps)

    def _infeasible(self, goal: str) -> DataError:
        return DataError.about(
            "",
            f"navigate found no walk {goal} of {self.params.min_steps} to {self.params.max_steps} steps "
            f"with max_distance={self.params.max_distance} in {_ATTEMPTS} tries; widen these params",
            where="data.params",
        )

    def _way_home(self, rng: random.Random, style: Style, start: list[Instruction]) -> list[Instruction] | None:
        """Moves from where `start` ends back to the origin, one per axis; None if one would be too long."""
        walker = Walker()
        for instruction in start:
            walker.follow(instruction)
        x, y = walker.position
        legs = [leg for leg in (((-1 if x > 0 else 1, 0), abs(x)), ((0, -1 if y > 0 else 1), abs(y))) if leg[1]]
        if any(distance > self.params.max_distance for _, distance in legs):
            return None
        rng.shuffle(legs)
        closing: list[Instruction] = []
        for unit, distance in legs:
            closing += self._go(style, walker, unit, distance)
        return closing

    @staticmethod
    def _go(style: Style, walker: Walker, unit: Vector, distance: int) -> list[Instruction]:
        """Instructions that move `walker` `distance` steps along the world direction `unit`."""
        name = next(d for d in ("forward", "backward", "left", "right") if relative(walker.heading, d) == unit)
        if style == "face_forward":
            steps = [Instruction(direction=name, distance=distance)]
        elif name == "forward":
            steps = [Instruction(distance=distance)]
        else:
            steps = [Instruction(turn="around" if name == "backward" else name), Instruction(distance=distance)]
        for instruction in steps:
            walker.follow(instruction)
        return steps

    def _random_instruction(self, rng: random.Random, style: Style) -> Instruction:
        distance = rng.randint(1, self.params.max_distance)
        if style == "face_forward":
            return Instruction(direction=rng.choice(["forward", "backward", "left", "right"]), distance=distance)
        if rng.random() < _TURN_SHARE:
            return self._random_turn(rng)
        return Instruction(distance=distance)

    @staticmethod
    def _random_turn(rng: random.Random) -> Instruction:
        return Instruction(turn=rng.choice(["left", "right", "around"]))
