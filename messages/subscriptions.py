"""Subscriptions: who receives what a publishing actor publishes."""

from __future__ import annotations

import attrs

from messages.refs import Recipient


@attrs.frozen(kw_only=True, slots=True)
class Subscribe:
    """Add ``subscriber`` to the receivers of what this actor publishes."""

    subscriber: Recipient = attrs.field()
    welcome: bool = attrs.field(default=True)


@attrs.frozen(kw_only=True, slots=True)
class Unsubscribe:
    """Remove ``subscriber`` from the receivers of what this actor publishes."""

    subscriber: Recipient = attrs.field()
