"""What the hot paths ask of the incidents (one indexed read each): is the decision gateway down, is the
chain halted, which price crashes shape the price model. Apart from ``service`` so that the services
reading it do not import the incident verbs (which call those services)."""
from __future__ import annotations

from exchange.price_model import PriceShock

from . import tables


def gateway_down(conn) -> int | None:
    """The id of the open ``gateway_down`` incident, or None (one indexed read)."""
    return tables.open_of_kind(conn, "gateway_down")


def chain_halted(conn) -> int | None:
    """The id of the open ``chain_halt`` incident, or None."""
    return tables.open_of_kind(conn, "chain_halt")


def price_shocks(conn) -> tuple[PriceShock, ...]:
    """Every price crash's shocks, oldest first (resolved ones too: the price stays where it fell)."""
    return tuple(PriceShock(asset, row.started_at, row.params["minutes"], row.params["percent"])
                 for row in tables.of_kind(conn, "price_crash") for asset in row.params["assets"])
