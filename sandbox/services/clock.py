"""The sandbox clock: time moves only when told, for every process on the database.

An advance writes the new time, expires the holds that ran out (at most ``card.clearing.MAX_EXPIRY_PER_UNIT``
of them: ``Advanced.expiry_pending`` says more are due, and ``sweep`` expires the rest, a batch per unit of
work), lets the market makers requote at the new prices, and appends ``clock.advanced`` — all in the
caller's unit of work; nothing moves in any process's memory unless that unit of work commits."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from card import clearing

from .. import audit, city_state, events
from ..clock import parse_duration
from ..context import CityContext
from ..errors import InvalidDuration
from . import mining
from .result import Result


@dataclass(frozen=True)
class Advanced(Result):
    now: str
    expired_holds: int
    status: str = "ok"
    # More holds were due than one unit of work expires (card.clearing.MAX_EXPIRY_PER_UNIT): ``sweep`` (the
    # facade's ``sweep_expired``) expires the rest, a batch per unit of work.
    expiry_pending: bool = False


@dataclass(frozen=True)
class Swept(Result):
    expired_holds: int
    expiry_pending: bool


def advance(city: CityContext, uow, *, delta: timedelta | str) -> Advanced:
    """Move the sandbox clock forward by ``delta`` (a timedelta or "3d", "2h30m"): stale holds expire,
    market makers requote at the new model prices."""
    if isinstance(delta, str):
        delta = parse_duration(delta)
    if not isinstance(delta, timedelta) or delta < timedelta(0):
        raise InvalidDuration(f"the sandbox clock only moves forward; got {delta!r}")
    # One advancer at a time across processes; the row read after the lock is the latest time.
    uow.advisory_lock(city_state.CLOCK_LOCK)
    head = city_state.head(uow.conn, for_update=True)
    now = max(head.now, uow.now()) + delta
    publish = city.advance_price_model(uow, head.now, now)
    # Every row this advance writes carries the new time (a caller's unit of work may have read the old one).
    uow.move_time_to(now)
    lapsed: list[dict] = []
    expired = clearing.expire_holds(city.cards, uow, expired=lapsed)
    pending = clearing.more_due(uow, expired)
    placed = city.exchange.market_makers.requote(uow, now)
    mining.on_advance(city, uow, head.now, now)   # farms mine, meters are read, levies charged
    seq = audit.append(uow, "sandbox", "clock.advanced", now.isoformat(), {"expired_holds": expired,
                                                                            "orders_requoted": placed})
    city_state.set_now(uow.conn, now)
    _expired_events(uow, lapsed)
    events.emit(uow, "clock.advanced", {"object": "clock", "now": now.isoformat(), "previous": head.now.isoformat(),
                                        "expired_holds": expired})
    assert seq is not None, "a clock advance is audited at once, never after a purchase's entry in one unit of work"
    uow.after_commit(lambda: publish(seq))
    return Advanced(now.isoformat(), expired, expiry_pending=pending)


def sweep(city: CityContext, uow) -> Swept:
    """Expire another batch of the holds past their date (what an advance left when more were due than one
    unit of work expires), each authorization with its ``authorization.expired``; audited."""
    lapsed: list[dict] = []
    expired = clearing.expire_holds(city.cards, uow, expired=lapsed)
    if expired:
        audit.append(uow, "sandbox", "card.holds_expired", uow.now().isoformat(), {"expired_holds": expired})
        _expired_events(uow, lapsed)
    return Swept(expired, clearing.more_due(uow, expired))


def _expired_events(uow, lapsed: list[dict]) -> None:
    for row in lapsed:
        events.emit(uow, "authorization.expired", {
            "object": "authorization", "authorization_id": row["id"],
            "reference": (row["idempotency_key"] or "").removeprefix("pay:"), "card_id": row["card_id"],
            "customer": row["cardholder_id"], "merchant_id": row["merchant_id"], "status": "expired",
            "released_minor": row["released_minor"], "currency": "KZT"},
            customer=row["cardholder_id"], merchant=row["merchant_id"])
