"""The decimal contexts money is computed in, independent of the calling thread's context.

``EXACT`` adds, subtracts and multiplies without rounding (``Inexact`` would mean a broken
invariant); never divide in it, since a quotient that does not terminate would take
unbounded memory. ``PRO_RATA`` is for the one division accounting needs (a share of a cost
basis): the default context's settings, fixed here.
"""

from __future__ import annotations

import decimal

EXACT = decimal.Context(
    prec=decimal.MAX_PREC,
    Emax=decimal.MAX_EMAX,
    Emin=decimal.MIN_EMIN,
    traps=[decimal.Inexact, decimal.InvalidOperation, decimal.Overflow],
)

PRO_RATA = decimal.Context(prec=28, rounding=decimal.ROUND_HALF_EVEN)
