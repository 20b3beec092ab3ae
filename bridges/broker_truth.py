"""The simulated broker's ledger: its orders, its deals and its positions, the broker's truth.

A plain class with no threads, no clocks and no randomness: the ``SimulatedBroker`` owns
one, guards it with its lock and turns what it returns (notices, one per callback the
broker owes) into callbacks. Keeping the truth apart from delivery is what lets a test
lose, repeat and reorder callbacks while the queries still answer the truth.

Positions net at average cost, in exact Decimals: adding to a position adds the fill's
cash to its cost, a reducing fill removes cost pro rata, and a fill through zero opens the
rest at the fill price. Only the pro-rata share and the average price are quotients; they
round to 28 digits in a fixed context, and everything else is exact.
"""

from __future__ import annotations

from decimal import Decimal

import attrs

from actors.exact_decimal import EXACT, PRO_RATA
from messages.broker import (
    BrokerFill,
    BrokerOrder,
    BrokerOrderStatus,
    BrokerPosition,
    BrokerProfitLoss,
    BrokerSettlement,
    deal_key,
)
from messages.enums import OrderSide


@attrs.frozen(kw_only=True, slots=True)
class OrderNotice:
    """An order callback the broker owes: ``on_order``'s arguments, in order."""

    order_no: str
    seq_no: int
    status: BrokerOrderStatus
    broker_ts_ns: int
    reason: str = ""


@attrs.frozen(kw_only=True, slots=True)
class DealNotice:
    """A deal callback the broker owes: ``on_deal``'s arguments, in order."""

    order_no: str
    seq_no: int
    match_ts: int
    security_id: str
    side: OrderSide
    price: Decimal
    size: Decimal

    @property
    def key(self) -> str:
        return deal_key(self.order_no, self.seq_no, self.match_ts)


Notice = OrderNotice | DealNotice


class _Order:
    """One order as the broker keeps it; ``seq_no`` is the last sequence number it used."""

    __slots__ = (
        "account",
        "client_order_id",
        "filled",
        "order_no",
        "price",
        "security_id",
        "seq_no",
        "side",
        "size",
        "status",
    )

    def __init__(
        self,
        order_no: str,
        *,
        account: str,
        security_id: str,
        side: OrderSide,
        price: Decimal,
        size: Decimal,
        client_order_id: str | None,
    ) -> None:
        self.order_no = order_no
        self.account = account
        self.security_id = security_id
        self.side = side
        self.price = price
        self.size = size
        self.client_order_id = client_order_id
        self.filled = Decimal(0)
        self.status = BrokerOrderStatus.SUBMITTED
        self.seq_no = 0

    def next_seq(self) -> int:
        self.seq_no += 1
        return self.seq_no

    def view(self) -> BrokerOrder:
        return BrokerOrder(
            order_no=self.order_no,
            account=self.account,
            security_id=self.security_id,
            side=self.side,
            price=self.price,
            size=self.size,
            filled=self.filled,
            status=self.status,
            client_order_id=self.client_order_id,
        )


class _Holding:
    """A net position: signed ``quantity`` and the signed ``cost`` of opening it."""

    __slots__ = ("cost", "quantity")

    def __init__(self, quantity: Decimal, cost: Decimal) -> None:
        self.quantity = quantity
        self.cost = cost

    def trade(self, signed: Decimal, price: Decimal) -> Decimal:
        """Net the trade in; returns the PnL it realized (what closing got back over cost)."""
        if self.quantity == 0 or (self.quantity > 0) == (signed > 0):
            self._open(signed, price)
            return Decimal(0)
        held = self.quantity.copy_abs()
        close = min(held, signed.copy_abs())
        signed_close = close if signed > 0 else close.copy_negate()
        if close == held:
            removed = self.cost
            self.quantity = Decimal(0)
            self.cost = Decimal(0)
        else:
            removed = PRO_RATA.divide(EXACT.multiply(self.cost, close), held)
            self.cost = EXACT.subtract(self.cost, removed)
            self.quantity = EXACT.add(self.quantity, signed_close)
        rest = EXACT.subtract(signed.copy_abs(), close)
        if rest:
            self._open(rest if signed > 0 else -rest, price)
        return EXACT.subtract(EXACT.multiply(signed_close.copy_negate(), price), removed)

    def avg_price(self) -> Decimal:
        return PRO_RATA.divide(self.cost, self.quantity).copy_abs()

    def _open(self, signed: Decimal, price: Decimal) -> None:
        self.quantity = EXACT.add(self.quantity, signed)
        self.cost = EXACT.add(self.cost, EXACT.multiply(signed, price))


class BrokerTruth:
    """Orders by number (in placement order), deals in booking order, positions by account.

    Order numbers are ``SIM-1``, ``SIM-2``, ... so a run's numbers are reproducible.
    """

    def __init__(self) -> None:
        self._orders: dict[str, _Order] = {}
        self._by_client: dict[tuple[str, str], str] = {}  # (account, client id) -> order_no
        self._fills: list[BrokerFill] = []
        self._holdings: dict[tuple[str, str], _Holding] = {}
        self._realized: dict[tuple[str, str], Decimal] = {}  # realized PnL, flat or not
        self.pnl_offsets: dict[str, Decimal] = {}
        """What the PnL query adds to the truth, by security (a misreporting broker)."""

    def add_order(
        self,
        *,
        account: str,
        security_id: str,
        side: OrderSide,
        price: Decimal,
        size: Decimal,
        filled: Decimal = Decimal(0),
        client_order_id: str | None = None,
    ) -> str:
        """Book a new open order and return its number; no callback is owed for it yet.

        ``filled`` is what an order seeded as pre-existing has already traded (no deals
        are booked for it). Raises ValueError (or TypeError) for a malformed order.
        """
        order_no = f"SIM-{len(self._orders) + 1}"
        order = _Order(
            order_no,
            account=account,
            security_id=security_id,
            side=side,
            price=price,
            size=size,
            client_order_id=client_order_id,
        )
        order.filled = filled
        order.view()  # validates every field before the order is kept
        if filled >= size:
            raise ValueError(f"an open order has less than its size {size} filled, not {filled}")
        if filled:
            order.status = BrokerOrderStatus.PARTIALLY_FILLED
        self._orders[order_no] = order
        if client_order_id is not None:
            self._by_client[account, client_order_id] = order_no
        return order_no

    def order_for_client(self, account: str, client_order_id: str) -> str | None:
        """The number of the account's order placed under ``client_order_id``, if any."""
        return self._by_client.get((account, client_order_id))

    def transition(
        self, order_no: str, status: BrokerOrderStatus, ts: int, reason: str = ""
    ) -> OrderNotice:
        """Set the order's status (SUBMITTED, REJECTED, CANCELLED) and say so."""
        order = self._orders[order_no]
        order.status = status
        return OrderNotice(
            order_no=order_no,
            seq_no=order.next_seq(),
            status=status,
            broker_ts_ns=ts,
            reason=reason,
        )

    def fill(
        self, order_no: str, price: Decimal, size: Decimal, ts: int
    ) -> tuple[DealNotice, OrderNotice]:
        """Trade ``size`` of an open order at ``price``: the deal and the order's new status.

        Raises ValueError for a final order, or a size that is not positive or exceeds
        what the order has left; nothing changes then.
        """
        order = self._orders[order_no]
        if not order.status.is_open:
            raise ValueError(f"order {order_no} is {order.status.value}")
        fill = BrokerFill(
            order_no=order_no,
            seq_no=order.seq_no + 1,
            match_ts=ts,
            account=order.account,
            security_id=order.security_id,
            side=order.side,
            price=price,
            size=size,
            client_order_id=order.client_order_id,
        )
        leaves = order.size - order.filled
        if size > leaves:
            raise ValueError(f"order {order_no} has {leaves} left, cannot fill {size}")
        order.next_seq()
        order.filled = EXACT.add(order.filled, size)
        self._fills.append(fill)
        self._trade(order.account, order.security_id, fill.signed_size, price)
        filled = order.filled == order.size
        status = BrokerOrderStatus.FILLED if filled else BrokerOrderStatus.PARTIALLY_FILLED
        deal = DealNotice(
            order_no=order_no,
            seq_no=fill.seq_no,
            match_ts=ts,
            security_id=order.security_id,
            side=order.side,
            price=price,
            size=size,
        )
        return deal, self.transition(order_no, status, ts)

    def set_position(
        self, account: str, security_id: str, quantity: Decimal, avg_price: Decimal
    ) -> None:
        """Replace the position with ``quantity`` at ``avg_price`` (zero removes it)."""
        if avg_price < 0:
            raise ValueError(f"avg_price must be >= 0, got {avg_price}")
        if quantity:
            cost = EXACT.multiply(quantity, avg_price)
            self._holdings[account, security_id] = _Holding(quantity, cost)
        else:
            self._holdings.pop((account, security_id), None)

    def order(self, order_no: str) -> BrokerOrder | None:
        """The order as it stands, or None for a number never given out."""
        order = self._orders.get(order_no)
        return None if order is None else order.view()

    def positions(self, account: str) -> list[BrokerPosition]:
        """The account's non-zero positions by security id."""
        return [
            BrokerPosition(
                account=account,
                security_id=security_id,
                quantity=holding.quantity,
                avg_price=holding.avg_price(),
            )
            for (owner, security_id), holding in sorted(
                self._holdings.items(), key=lambda item: item[0]
            )
            if owner == account
        ]

    def open_orders(self, account: str) -> list[BrokerOrder]:
        """The account's open orders in placement order."""
        return [
            order.view()
            for order in self._orders.values()
            if order.account == account and order.status.is_open
        ]

    def fills(self, account: str, since_ns: int) -> list[BrokerFill]:
        """The account's deals matched at or after ``since_ns``, in booking order."""
        return [f for f in self._fills if f.account == account and f.match_ts >= since_ns]

    def profit_loss(self, account: str) -> list[BrokerProfitLoss]:
        """The account's realized PnL by security, from its own deals (the paper broker
        charges no fee or tax)."""
        realized = {sid: pnl for (owner, sid), pnl in self._realized.items() if owner == account}
        for security_id, offset in self.pnl_offsets.items():
            realized[security_id] = EXACT.add(realized.get(security_id, Decimal(0)), offset)
        return [
            BrokerProfitLoss(
                account=account,
                security_id=security_id,
                realized_pnl=pnl,
                fee=Decimal(0),
                tax=Decimal(0),
            )
            for security_id, pnl in sorted(realized.items())
        ]

    def settlements(self, account: str) -> list[BrokerSettlement]:
        """The account's net cash of its deals, all settled on the day (T+0, dated "T")."""
        cash = Decimal(0)
        for fill in self._fills:
            if fill.account == account:
                cash = EXACT.subtract(cash, EXACT.multiply(fill.signed_size, fill.price))
        return [BrokerSettlement(account=account, date="T", days=0, amount=cash)]

    def _trade(self, account: str, security_id: str, signed: Decimal, price: Decimal) -> None:
        key = (account, security_id)
        holding = self._holdings.setdefault(key, _Holding(Decimal(0), Decimal(0)))
        realized = holding.trade(signed, price)
        if realized or key in self._realized:
            self._realized[key] = EXACT.add(self._realized.get(key, Decimal(0)), realized)
        if not holding.quantity:
            del self._holdings[key]
