"""The decision endpoints' SQL: which app decides a card's purchases, with which secret and deadline."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from sqlalchemy import delete, insert, select

from .tables import decision_endpoints as t

PROGRAMME = "programme"
# a decision URL set at runtime, or the gateway down by an incident (sandbox/incidents/): one statement
_ANY = ("SELECT 1 FROM sandbox_decision_endpoints UNION ALL SELECT 1 FROM sandbox_incidents "
        "WHERE kind = 'gateway_down' AND resolved_at IS NULL LIMIT 1")
# on the purchase's path: parametrised SQL on the unit of work's cursor (ledger.fastpath), not Core
_RESOLVE = ("SELECT scope, url, secret, deadline_ms, stand_in FROM sandbox_decision_endpoints "
            "WHERE scope IN (:card, :programme)")


def card_scope(card_id: int) -> str:
    return f"card:{card_id}"


@dataclass(frozen=True)
class Endpoint:
    """The app that decides a purchase: ``scope`` "programme", "card:<id>" or "config" (the preset's URL)."""
    scope: str
    url: str
    secret: str
    deadline_ms: int
    stand_in: str


def any_set_later(uow) -> Callable[[], bool]:
    """Whether any decision URL was set at runtime or an incident has the gateway down (one indexed read:
    the no-gateway path's only cost), read with the next statement ``uow`` sends (``uow.sql.read_ahead``),
    answered when called."""
    ahead = uow.sql.read_ahead(_ANY)
    return lambda: ahead.one() is not None


def resolve(uow, card_id: int, programme) -> Endpoint | None:
    """The card's own app, else the programme's app set at runtime, else the preset's ``decision_url``
    (``programme``: the ``CardProgrammeCfg``); the deadline and stand-in default to the programme's."""
    rows = {r[0]: r for r in uow.sql.all(_RESOLVE, {"card": card_scope(card_id), "programme": PROGRAMME})}
    row = rows.get(card_scope(card_id)) or rows.get(PROGRAMME)
    if row is not None:
        scope, url, secret, deadline_ms, stand_in = row
        return Endpoint(scope, url, secret, deadline_ms or programme.decision_deadline_ms,
                        stand_in or programme.stand_in)
    if programme.decision_url:
        return Endpoint("config", programme.decision_url, programme.decision_secret, programme.decision_deadline_ms,
                        programme.stand_in)
    return None


def put(uow, scope: str, *, url: str, secret: str, deadline_ms: int | None, stand_in: str | None) -> None:
    """Set (or replace) the app of ``scope``."""
    uow.conn.execute(delete(t).where(t.c.scope == scope))
    uow.conn.execute(insert(t).values(scope=scope, url=url, secret=secret, deadline_ms=deadline_ms,
                                      stand_in=stand_in, created_at=uow.now()))


def remove(uow, scope: str) -> bool:
    """Forget the app of ``scope``; False if none was set."""
    return uow.conn.execute(delete(t).where(t.c.scope == scope)).rowcount > 0


def get(uow, scope: str):
    return uow.conn.execute(select(t).where(t.c.scope == scope)).first()
