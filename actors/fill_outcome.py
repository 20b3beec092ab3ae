"""What applying a fill to an order or a position came to: applied, duplicate, or refused."""

from __future__ import annotations

import enum

import attrs

from messages.orders import FillRefusal


class FillResult(enum.Enum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    REFUSED = "refused"


@attrs.frozen(kw_only=True, slots=True)
class FillOutcome:
    """``refusal`` and ``detail`` say why when ``result`` is REFUSED; a duplicate is a no-op."""

    result: FillResult
    refusal: FillRefusal | None = None
    detail: str = ""

    @property
    def applied(self) -> bool:
        return self.result is FillResult.APPLIED


APPLIED = FillOutcome(result=FillResult.APPLIED)
DUPLICATE = FillOutcome(result=FillResult.DUPLICATE)


def refused(refusal: FillRefusal, detail: str) -> FillOutcome:
    return FillOutcome(result=FillResult.REFUSED, refusal=refusal, detail=detail)
