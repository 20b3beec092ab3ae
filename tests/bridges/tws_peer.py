"""The TWS end of an ``ib_async.IB``, for tests: no socket, no IB, nothing off this machine.

``FakeTws`` takes the place of the socket under ib_async's ``Client``: the client's own
encoder writes each request (``placeOrder``, ``cancelOrder``, ``reqPositions``,
``reqAllOpenOrders``, ``reqExecutions``, ...) to it as the TWS API's length-prefixed,
NUL-separated fields, and it answers as TWS does, by calling ib_async's ``Wrapper`` with
the callbacks TWS sends (``openOrder``, ``orderStatus``, ``execDetails``,
``commissionReport``, ``position``, ``positionEnd``, ``error``, ...) and ib_async's own
``Contract``, ``Order``, ``OrderState``, ``Execution`` and ``CommissionReport`` objects, on
the IB thread. It holds the account's truth (orders, executions, positions), which its
answers to queries always tell, whatever happened to its pushes (dropped, repeated,
reordered, or lost to a dropped connection).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import itertools
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import attrs
from ib_async import IB, CommissionReport, Contract, Execution, Order, OrderState
from ib_async.client import Client
from ib_async.util import dataclassAsDict

from bridges.ib_broker import IbBroker, IbContract
from messages.enums import OrderSide

CLIENT_ID = 7
Push = Callable[[], object]


@attrs.define
class TwsOrder:
    order_id: int
    client_id: int
    perm_id: int
    contract: Contract
    order: Order
    filled: Decimal = Decimal(0)
    status: str = "Submitted"

    @property
    def total(self) -> Decimal:
        return Decimal(repr(self.order.totalQuantity))


class FakeTws:
    """TWS for one account; ``contracts`` are the instruments it knows (its conIds)."""

    def __init__(self, account: str, contracts: dict[str, IbContract]) -> None:
        self.account = account
        self.known = {c.con_id: c for c in contracts.values() if c.con_id}
        self.by_symbol = {c.symbol: c for c in contracts.values() if c.symbol}
        self.up = True
        self.ib: IB | None = None
        self.broker: IbBroker | None = None
        self.orders: dict[int, TwsOrder] = {}  # by permId
        self.executions: list[tuple[Contract, Execution, CommissionReport]] = []
        self.positions: dict[int, tuple[Contract, Decimal, Decimal]] = {}
        self.received: list[list[str]] = []
        self.drop = self.duplicate = self.reorder = False
        self.reject_next: tuple[int, str] | None = None
        self.held: list[list[Push]] = []
        self.next_order_id = 1
        self._perms = itertools.count(5001)
        self._execs = itertools.count(1)

    # -- the session ---------------------------------------------------------------------

    async def connect(self, ib: IB) -> None:
        """What ``IB.connectAsync`` does against a TWS that is up: the handshake's outcome
        (server version, clientId, next valid id, account), then its startup requests."""
        if not self.up:
            raise ConnectionRefusedError("TWS is not listening")
        self.ib = ib
        client = ib.client
        client.conn.transport = self
        client.connState = Client.CONNECTED
        client._serverVersion = Client.MaxClientVersion
        client._apiReady = True
        client._accounts = [self.account]
        client.clientId = ib.wrapper.clientId = CLIENT_ID
        client.updateReqId(self.next_order_id)
        await ib.reqPositionsAsync()
        await ib.reqOpenOrdersAsync()
        await ib.reqExecutionsAsync()
        ib.connectedEvent.emit()

    def drop_connection(self) -> None:
        """TWS goes away (on the IB thread): the socket closes under ib_async."""
        self.up = False
        if self.ib is not None and self.ib.client.conn.transport is self:
            self.ib.client.conn.connection_lost(None)

    @property
    def serving(self) -> bool:
        return self.ib is not None and self.ib.client.conn.transport is self

    # -- the transport ib_async writes to --------------------------------------------------

    def write(self, data: bytes) -> None:
        while data:
            size = int.from_bytes(data[:4], "big")
            fields = data[4 : 4 + size].decode().split("\0")[:-1]
            data = data[4 + size :]
            self.received.append(fields)
            asyncio.get_running_loop().call_soon(self._answer, fields)

    def write_eof(self) -> None:
        pass

    def close(self) -> None:
        pass

    def _answer(self, fields: list[str]) -> None:
        assert self.ib is not None
        wrapper = self.ib.wrapper
        kind = fields[0]
        if kind == "3":
            self._placed(int(fields[1]))
        elif kind == "4":
            self._cancel(int(fields[2]))
        elif kind == "61":
            for contract, quantity, cost in self.positions.values():
                wrapper.position(self.account, contract, float(quantity), float(cost))
            wrapper.positionEnd()
        elif kind in {"5", "16"}:
            for tws_order in self.orders.values():
                if tws_order.status in {"Submitted", "PreSubmitted"}:
                    self._open_order(tws_order)()
                    self._order_status(tws_order)()
            wrapper.openOrderEnd()
        elif kind == "7":
            request_id = int(fields[2])
            for contract, execution, report in self.executions:
                wrapper.execDetails(request_id, contract, dataclasses.replace(execution))
                wrapper.commissionReport(dataclasses.replace(report))
            wrapper.execDetailsEnd(request_id)

    # -- what TWS does with orders ----------------------------------------------------------

    def _placed(self, order_id: int) -> None:
        assert self.ib is not None
        trade = self.ib.wrapper.trades[(CLIENT_ID, order_id)]
        self.next_order_id = max(self.next_order_id, order_id + 1)
        contract = self.resolve(trade.contract)
        order = Order(**dataclassAsDict(trade.order))  # TWS's copy: a plain Order
        order.permId, order.clientId = next(self._perms), CLIENT_ID
        tws_order = TwsOrder(order_id, CLIENT_ID, order.permId, contract, order)
        self.orders[order.permId] = tws_order
        if self.reject_next is not None:
            code, message = self.reject_next
            self.reject_next = None
            tws_order.status = "Cancelled"
            self.ib.wrapper.error(order_id, code, message, "")
            return
        self._open_order(tws_order)()
        self._push([self._order_status(tws_order)])

    def _cancel(self, order_id: int) -> None:
        assert self.ib is not None
        found = [o for o in self.orders.values() if o.order_id == order_id and o.client_id]
        if not found or found[0].status not in {"Submitted", "PreSubmitted"}:
            self.ib.wrapper.error(order_id, 10147, f"OrderId {order_id} is not found.", "")
            return
        found[0].status = "Cancelled"
        self._push([self._order_status(found[0])])
        self.ib.wrapper.error(order_id, 202, "Order Canceled - reason:", "")

    def outside_order(
        self, security_id: str, side: OrderSide, price: Decimal, size: Decimal
    ) -> str:
        """An order placed in TWS itself (orderId 0), pushed to this client as TWS pushes
        manual orders to clientId 0 / the master client."""
        contract = self.resolve(Contract(symbol=security_id))
        perm_id = next(self._perms)
        order = Order(
            orderId=0,
            clientId=0,
            permId=perm_id,
            action="BUY" if side is OrderSide.BUY else "SELL",
            totalQuantity=float(size),
            orderType="LMT",
            lmtPrice=float(price),
            account=self.account,
        )
        tws_order = TwsOrder(0, 0, perm_id, contract, order)
        self.orders[perm_id] = tws_order
        if self.serving:
            self._open_order(tws_order)()
            self._push([self._order_status(tws_order)])
        return f"perm.{perm_id}"

    def fill(
        self, order_no: str, price: Decimal, size: Decimal, *, exec_id: str | None = None
    ) -> str:
        """An execution of that order at the exchange; returns its execId."""
        tws_order = self._order(order_no)
        tws_order.filled += size
        if tws_order.filled == tws_order.total:
            tws_order.status = "Filled"
        number = next(self._execs)
        exec_id = exec_id or f"0000e{tws_order.perm_id:04x}.{number:08x}.01.01"
        buy = tws_order.order.action == "BUY"
        execution = Execution(
            execId=exec_id,
            time=datetime.datetime.now(datetime.UTC),
            acctNumber=self.account,
            exchange="ISLAND",
            side="BOT" if buy else "SLD",
            shares=float(size),
            price=float(price),
            permId=tws_order.perm_id,
            clientId=tws_order.client_id,
            orderId=tws_order.order_id,
            cumQty=float(tws_order.filled),
            avgPrice=float(price),
            orderRef=tws_order.order.orderRef,
        )
        report = CommissionReport(
            execId=exec_id, commission=max(1.0, 0.005 * float(size)), currency="USD"
        )
        self.executions.append((tws_order.contract, execution, report))
        self._book(tws_order.contract, size if buy else -size, price)
        self._push(self._fill_pushes(tws_order, execution, report))
        return exec_id

    def correct(self, exec_id: str, price: Decimal) -> str:
        """IB's correction of an execution: the same execId but its final digits, new terms."""
        index, (contract, execution, _report) = next(
            (i, e) for i, e in enumerate(self.executions) if e[1].execId == exec_id
        )
        head, last = exec_id.rsplit(".", 1)
        corrected_id = f"{head}.{int(last) + 1:02d}"
        corrected = dataclasses.replace(execution, execId=corrected_id, price=float(price))
        report = CommissionReport(execId=corrected_id, commission=1.0, currency="USD")
        self.executions[index] = (contract, corrected, report)
        self._push(
            [
                lambda: self._wrapper().execDetails(-1, contract, dataclasses.replace(corrected)),
                lambda: self._wrapper().commissionReport(dataclasses.replace(report)),
            ]
        )
        return corrected_id

    def seed_position(self, contract: Contract, quantity: Decimal, avg_cost: Decimal) -> None:
        self.positions[self.resolve(contract).conId] = (self.resolve(contract), quantity, avg_cost)

    def push_position(self, security_id: str) -> None:
        """TWS pushes an account position (as it does after each change, and unasked)."""
        contract, quantity, cost = self.positions[self.resolve(Contract(symbol=security_id)).conId]
        self._push(
            [lambda: self._wrapper().position(self.account, contract, float(quantity), float(cost))]
        )

    def flush(self) -> None:
        """Deliver what ``reorder`` held: the latest fill first, each order's status before
        its execution (TWS does send them so)."""
        held, self.held = self.held, []
        for pushes in reversed(held):
            for push in (*pushes[2:3], *pushes[:2], *pushes[3:]):
                push()

    # -- inside -----------------------------------------------------------------------------

    def resolve(self, contract: Contract) -> Contract:
        """The contract as TWS describes it: conId, symbol, type, currency."""
        known = self.known.get(contract.conId) or self.by_symbol.get(contract.symbol)
        if known is None:
            raise AssertionError(f"TWS knows no contract {contract}")
        return Contract(
            conId=known.con_id,
            symbol=known.symbol,
            secType=known.sec_type,
            exchange=known.exchange,
            currency=known.currency,
        )

    def _wrapper(self) -> Any:
        assert self.ib is not None
        return self.ib.wrapper

    def _order(self, order_no: str) -> TwsOrder:
        head, number = order_no.split(".")
        for tws_order in self.orders.values():
            if (head == "perm" and tws_order.perm_id == int(number)) or (
                head != "perm"
                and (tws_order.client_id, tws_order.order_id) == (int(head), int(number))
            ):
                return tws_order
        raise AssertionError(f"TWS knows no order {order_no}")

    def _open_order(self, tws_order: TwsOrder) -> Push:
        order = dataclasses.replace(tws_order.order)
        return lambda: self._wrapper().openOrder(
            tws_order.order_id, tws_order.contract, order, OrderState(status=tws_order.status)
        )

    def _order_status(self, tws_order: TwsOrder) -> Push:
        status, filled = tws_order.status, float(tws_order.filled)
        remaining = float(tws_order.total - tws_order.filled)
        return lambda: self._wrapper().orderStatus(
            tws_order.order_id,
            status,
            filled,
            remaining,
            0.0,
            tws_order.perm_id,
            0,
            0.0,
            tws_order.client_id,
            "",
            0.0,
        )

    def _fill_pushes(
        self, tws_order: TwsOrder, execution: Execution, report: CommissionReport
    ) -> list[Push]:
        contract = tws_order.contract
        _, quantity, cost = self.positions[contract.conId]
        return [
            lambda: self._wrapper().execDetails(-1, contract, dataclasses.replace(execution)),
            lambda: self._wrapper().commissionReport(dataclasses.replace(report)),
            self._order_status(tws_order),
            lambda: self._wrapper().position(self.account, contract, float(quantity), float(cost)),
        ]

    def _push(self, pushes: list[Push]) -> None:
        """Send to the client as the delivery knobs say; nothing reaches a closed socket."""
        if not self.serving or self.drop:
            return
        if self.reorder:
            self.held.append(pushes)
            return
        for _ in range(2 if self.duplicate else 1):
            for push in pushes:
                push()

    def _book(self, contract: Contract, signed: Decimal, price: Decimal) -> None:
        _, quantity, cost = self.positions.get(contract.conId, (contract, Decimal(0), Decimal(0)))
        new = quantity + signed
        if quantity == 0 or ((quantity > 0) != (new > 0) and new != 0):
            cost = price
        elif abs(new) > abs(quantity):
            cost = (cost * abs(quantity) + price * abs(signed)) / abs(new)
        self.positions[contract.conId] = (contract, new, cost)
