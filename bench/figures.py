"""Figures: what one run of a benchmark measured, in a shape the suite can aggregate.

A bench's ``figures(quick)`` returns them instead of printing, so ``python -m bench`` can
repeat it, pool or rank its runs, divide by the floor measured in the same run and say
whether the issue's target is met. Samples are kept in base units (seconds for times,
things per second for rates) so a figure and its floor divide without unit juggling; the
``unit`` is only how the results file shows them.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Sequence

import attrs

TIME_UNITS = {"ns": 1e9, "µs": 1e6, "ms": 1e3, "s": 1.0}
"""Display units of times, as how many of them make a second."""


class Kind(enum.Enum):
    """What the samples are, which says how repeats combine and which side is bad."""

    LATENCY = "latency"
    """Many times per run, lower is better: the runs' samples are pooled."""
    DURATION = "duration"
    """One time per run (a restart, a recovery), lower is better."""
    RATE = "rate"
    """One rate per run (things per second), higher is better."""

    @property
    def is_time(self) -> bool:
        return self is not Kind.RATE


class Statistic(enum.Enum):
    """Which aggregate a target is judged on."""

    MEDIAN = "median"
    BAD = "p99"
    """The bad side: p99 of times, p1 of rates (with under 100 runs, the worst run)."""
    RATIO = "ratio"
    """The median over the floor's median, both from the same suite run."""


@attrs.frozen(kw_only=True)
class Target:
    """One of the issue's speed targets, checked on one figure.

    ``limit`` is in base units (seconds, per second) or, for a ratio, plain. A target the
    run cannot judge (a quick run measures smaller sizes than the target names) says why in
    ``not_judged`` and is listed, not checked.
    """

    text: str
    statistic: Statistic
    limit: float
    at_most: bool
    not_judged: str = ""

    def met(self, value: float) -> bool:
        return value <= self.limit if self.at_most else value >= self.limit


def _floats(values: Iterable[float]) -> tuple[float, ...]:
    return tuple(float(value) for value in values)


@attrs.frozen(kw_only=True)
class Figure:
    """One measured quantity of one run.

    ``floor`` names the floor figure (``bench.floors``) it is divided by. A duration of
    ``items`` things can be divided by a rate floor: the ratio is then the duration over
    the time the floor takes for as many.
    """

    name: str
    kind: Kind
    unit: str
    samples: tuple[float, ...] = attrs.field(converter=_floats)
    floor: str
    items: int | None = None
    target: Target | None = None
    note: str = ""

    def __attrs_post_init__(self) -> None:
        if self.kind.is_time and self.unit not in TIME_UNITS:
            raise ValueError(f"{self.name}: a time needs one of {sorted(TIME_UNITS)}")
        if not self.samples:
            raise ValueError(f"{self.name}: no samples")

    @property
    def scale(self) -> float:
        """Base units → display units."""
        return TIME_UNITS.get(self.unit, 1.0)


def latency(
    name: str,
    seconds: Iterable[float],
    *,
    floor: str,
    unit: str = "µs",
    target: Target | None = None,
    note: str = "",
) -> Figure:
    return Figure(
        name=name,
        kind=Kind.LATENCY,
        unit=unit,
        samples=tuple(seconds),
        floor=floor,
        target=target,
        note=note,
    )


def duration(
    name: str,
    seconds: float | Iterable[float],
    *,
    floor: str,
    unit: str = "s",
    items: int | None = None,
    target: Target | None = None,
    note: str = "",
) -> Figure:
    samples = (seconds,) if isinstance(seconds, float | int) else tuple(seconds)
    return Figure(
        name=name,
        kind=Kind.DURATION,
        unit=unit,
        samples=samples,
        floor=floor,
        items=items,
        target=target,
        note=note,
    )


def rate(
    name: str,
    per_s: float | Iterable[float],
    *,
    floor: str,
    unit: str = "/s",
    target: Target | None = None,
    note: str = "",
) -> Figure:
    samples = (per_s,) if isinstance(per_s, float | int) else tuple(per_s)
    return Figure(
        name=name, kind=Kind.RATE, unit=unit, samples=samples, floor=floor, target=target, note=note
    )


def nearest_rank(values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile ``q`` (0 < q ≤ 1) of ``values``."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def bad_side(kind: Kind, values: Sequence[float]) -> float:
    """p99 of times, p1 of rates: the 1% worst end, whichever way worse points."""
    return nearest_rank(values, 0.99 if kind.is_time else 0.01)


def shown(figure: Figure, value: float) -> str:
    """``value`` (base units) in the figure's display unit, with three significant digits
    or more."""
    return f"{_digits(value * figure.scale)} {figure.unit}"


def times(ratio: float) -> str:
    """A ratio as a multiplier: ``2.35x``, ``0.0412x``, ``1,530x``."""
    return f"{_digits(ratio)}x"


def _digits(number: float) -> str:
    size = abs(number)
    if size >= 100:
        return f"{number:,.0f}"
    if size >= 10:
        return f"{number:.1f}"
    if size >= 1:
        return f"{number:.2f}"
    return f"{number:.3g}"
