"""What the exchange asks about farms: may this customer sell (a farm sells only under an active
digital-mining licence), and recording a farm's sale for the mining report."""
from __future__ import annotations

from mining import store
from mining.errors import FarmClosed

from ..context import CityContext

SCOPE = "digital_mining"


def require_may_sell(city: CityContext, uow, actor: str) -> bool:
    """True if ``actor`` is a farm (its sales are recorded); raises ``farm_closed`` for a closed farm and
    ``not_licensed`` for a farm without an active digital-mining licence (unlicensed or suspended)."""
    farm = store.farm(uow.conn, actor)
    if farm is None:
        return False
    if farm["status"] == "closed":
        raise FarmClosed(f"farm {actor} was closed by the regulator; it cannot sell", farm=actor)
    city.licences.require(actor, SCOPE, uow.now())   # the registry every unit of work keeps current
    return True


def record_sale(uow, farm_id: str, order_id: int, qty_sat: int, proceeds_minor: int, source: str) -> None:
    if qty_sat > 0:
        store.add_sale(uow.conn, farm_id, order_id, qty_sat, proceeds_minor, source, uow.now())
