"""What applying a fill to an order or a position came to: applied, duplicate, or refused."""

from __future__ import annotations

import enum
from collections.abc import Mapping

import attrs

from messages.fills import Fill, FillCharged, FillReversed
from messages.orders import FillChargeRefused, FillRefusal, FillReversalRefused


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

    @property
    def label(self) -> str:
        """The outcome as a metric label: the refusal's reason, else the result."""
        return self.refusal.value if self.refusal is not None else self.result.value

    def reversal_refused(self, reversal: FillReversed, correlation_id: str) -> FillReversalRefused:
        """The event that says this refused outcome of ``reversal``, for the bus."""
        assert self.refusal is not None
        return FillReversalRefused(
            correlation_id=correlation_id,
            reversal=reversal,
            reason=self.refusal,
            detail=self.detail,
        )

    def charge_refused(self, charge: FillCharged, correlation_id: str) -> FillChargeRefused:
        """The event that says this refused outcome of ``charge``, for the bus."""
        assert self.refusal is not None
        return FillChargeRefused(
            correlation_id=correlation_id,
            charge=charge,
            reason=self.refusal,
            detail=self.detail,
        )


APPLIED = FillOutcome(result=FillResult.APPLIED)
DUPLICATE = FillOutcome(result=FillResult.DUPLICATE)


def refused(refusal: FillRefusal, detail: str) -> FillOutcome:
    return FillOutcome(result=FillResult.REFUSED, refusal=refusal, detail=detail)


def charge_repeat(charged: Mapping[str, FillCharged], charge: FillCharged) -> FillOutcome | None:
    """DUPLICATE or a conflict refusal when ``charge``'s fill was charged before, else None:
    a broker charges a deal once, so other figures for it are refused, not guessed at."""
    known = charged.get(charge.fill_id)
    if known is None:
        return None
    if known == charge:
        return DUPLICATE
    return refused(
        FillRefusal.CONFLICTING_DUPLICATE,
        f"fill {charge.fill_id} was already charged fee {known.fee} and tax {known.tax}",
    )


def repeat_outcome(applied: Mapping[str, Fill], fill: Fill) -> FillOutcome | None:
    """DUPLICATE or a conflict refusal when ``fill``'s id was applied before, else None.

    A redelivery with equal data is harmless; the same id with other data means the venue
    (or our dedup key) is broken, so it is refused rather than guessed at.
    """
    known = applied.get(fill.fill_id)
    if known is None:
        return None
    if known == fill:
        return DUPLICATE
    return refused(
        FillRefusal.CONFLICTING_DUPLICATE,
        f"fill {fill.fill_id} was already applied with other data",
    )
