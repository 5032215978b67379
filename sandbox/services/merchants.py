"""Merchants: registering one that the configuration does not list, and finding one by id or name."""
from __future__ import annotations

from dataclasses import dataclass

from card import issuing

from .. import audit
from ..context import CityContext
from .result import Result


@dataclass(frozen=True)
class MerchantRegistered(Result):
    merchant: str
    status: str = "ok"


def register_merchant(city: CityContext, uow, *, merchant_id: str, name: str, mcc: str,
                      in_zone: bool = True) -> MerchantRegistered:
    """Register a merchant that is not in the configuration (e.g. from the population generator), with
    the programme's merchant fee; registering the same merchant again changes nothing."""
    issuing.register_merchant(uow, merchant_id, name, mcc, in_zone=in_zone, mdr_bps=city.cfg.card.mdr_bps)
    audit.append(uow, "sandbox", "merchant.registered", merchant_id, {"name": name, "mcc": mcc, "in_zone": in_zone})
    return MerchantRegistered(merchant_id)


def resolve(city: CityContext, uow, merchant: str) -> str:
    """The merchant id for ``merchant`` given as an id or as a name (configured or registered). Unknown
    names pass through unchanged, so the card declines them as an unregistered merchant (57)."""
    if city.cfg.merchant(merchant) is not None:
        return merchant
    for m in city.cfg.merchants:
        if m.name.lower() == str(merchant).lower():
            return m.id
    found = issuing.merchant_id_by_name(uow, str(merchant))
    return found if found is not None else merchant


def merchant(city: CityContext, uow, merchant_id: str) -> issuing.MerchantRecord:
    """The registered merchant ``merchant_id`` as the database has it (``MerchantNotFound`` otherwise)."""
    return issuing.get_merchant(uow, merchant_id)


def ids_starting(city: CityContext, uow, prefix: str) -> list[str]:
    """Registered merchant ids that start with ``prefix`` (bounded), in id order."""
    return issuing.merchant_ids_starting(uow, prefix)
