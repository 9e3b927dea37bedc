"""The allowed values of a setting, written once, and the rules the schedule's settings obey.

    LEARNING_RATE = Interval(0, None, "neither")
    problem("lr", -1.0, LEARNING_RATE)       # 'lr must be > 0, got -1.0'
    schedule_problems("step", 1.0, 2.0, None, epochs=10)   # ['warmup_epochs 2.0 needs ...']

In the spirit of scikit-learn's ``_parameter_constraints``: the run's table
(:data:`twolayer.config.CONSTRAINTS`) maps each setting to one of these, and the
Solver checks its arguments of the same meaning (its ``learning_rate``,
``lr_decay``, ``warmup_epochs``, ``restart_epochs``, ``lr_schedule``) against the
same objects, so each range is stated in one place.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Interval:
    """Numbers from ``low`` to ``high`` (None: unbounded); ``closed`` says which ends
    belong: "left", "right", "both" or "neither"."""

    low: float | None
    high: float | None
    closed: str = "left"

    def holds(self, value: Any) -> bool:
        left = self.closed in ("left", "both")
        right = self.closed in ("right", "both")
        if self.low is not None and not (value >= self.low if left else value > self.low):
            return False
        return self.high is None or (value <= self.high if right else value < self.high)

    def describe(self) -> str:
        if self.high is None:
            return f"be {'>=' if self.closed in ('left', 'both') else '>'} {self.low:g}"
        left = "[" if self.closed in ("left", "both") else "("
        right = "]" if self.closed in ("right", "both") else ")"
        return f"lie in {left}{self.low:g}, {self.high:g}{right}"


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values."""

    values: tuple[Any, ...]

    def holds(self, value: Any) -> bool:
        return value in self.values

    def describe(self) -> str:
        return f"be one of {', '.join(map(str, self.values))}"


@dataclass(frozen=True)
class Check:
    """Values for which ``test`` is true, described by ``text`` (e.g. an augment spec)."""

    test: Callable[[Any], bool]
    text: str

    def holds(self, value: Any) -> bool:
        return self.test(value)

    def describe(self) -> str:
        return f"be {self.text}"


Constraint = Interval | Options | Check

POSITIVE = Interval(0, None, "neither")
NON_NEGATIVE = Interval(0, None, "left")
FRACTION = Interval(0, 1, "left")  # [0, 1): smoothing, dropout, a decay
LEARNING_RATE = POSITIVE
SCHEDULES = Options(("cosine", "cosine_restarts", "step"))


def is_number(value: Any) -> bool:
    """A real number, not a bool (NumPy's included)."""
    return isinstance(value, (int, float, np.number)) and not isinstance(value, bool)


def problem(name: str, value: Any, constraint: Constraint) -> str | None:
    """What is wrong with ``value`` for setting ``name`` ("lr must be > 0, got -1.0"), or None."""
    if isinstance(constraint, Interval):
        if not is_number(value):
            return f"{name} must be a number, got {value!r}"
        if not math.isfinite(value):
            return f"{name} must be a finite number, got {value!r}"
    if constraint.holds(value):
        return None
    return f"{name} must {constraint.describe()}, got {value!r}"


def check(name: str, value: Any, constraint: Constraint) -> Any:
    """``value``, or ValueError saying what is wrong with it."""
    error = problem(name, value, constraint)
    if error is not None:
        raise ValueError(error)
    return value


def schedule_problems(
    lr_schedule: str, lr_decay: float, warmup_epochs: float, restart_epochs: Any, epochs: int
) -> list[str]:
    """What does not fit together in a learning-rate schedule's settings (each checked
    alone already): the step schedule's decay, the cosine's warm-up and restarts."""
    problems = []
    if lr_schedule != "step" and lr_decay != 1.0:
        problems.append(f"lr_decay {lr_decay} needs lr_schedule step; cosine decays on its own")
    if warmup_epochs and (lr_schedule == "step" or warmup_epochs > epochs):
        problems.append(
            f"warmup_epochs {warmup_epochs} needs lr_schedule cosine (or cosine_restarts) "
            f"and <= epochs ({epochs})"
        )
    if (lr_schedule == "cosine_restarts") != (restart_epochs is not None):
        problems.append(
            f"lr_schedule {lr_schedule} with restart_epochs {restart_epochs}: "
            "restart_epochs (the epochs between restarts) goes with cosine_restarts alone"
        )
    return problems
