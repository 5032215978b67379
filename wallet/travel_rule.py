"""FATF Recommendation 16 ("travel rule") data that must accompany larger withdrawals."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from ledger.amounts import format_amount
from ledger.assets import DEFAULT_REGISTRY, AssetRegistry

from .errors import TravelRuleRequired

MAX_FIELD = 200
ORIGINATOR_IDENTIFIERS = ("originator_address", "originator_id", "originator_customer_number",
                          "originator_birth_date_place")
REQUIRED = ("originator_name", "originator_account", "beneficiary_name", "beneficiary_account")


@dataclass(frozen=True, slots=True)
class TravelRule:
    """Originator name + account + one identifier (address, national id, customer number or birth date
    and place); beneficiary name + account (the wallet address for a withdrawal)."""

    originator_name: str = ""
    originator_account: str = ""
    beneficiary_name: str = ""
    beneficiary_account: str = ""
    originator_address: str = ""
    originator_id: str = ""
    originator_customer_number: str = ""
    originator_birth_date_place: str = ""

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v}


def check_travel_rule(payload: TravelRule | dict | None, *, amount_minor: int, threshold_minor: int,
                      asset: str, assets: AssetRegistry = DEFAULT_REGISTRY) -> TravelRule | None:
    """Return the payload if complete; raise ``TravelRuleRequired`` naming what is missing when the
    amount is at or above ``threshold_minor``. Below the threshold the payload is optional."""
    if isinstance(payload, dict):
        unknown = set(payload) - set(TravelRule.__dataclass_fields__)
        if unknown:
            raise TravelRuleRequired(f"unknown travel-rule fields: {', '.join(sorted(unknown))}")
        payload = TravelRule(**{k: str(v)[:MAX_FIELD] for k, v in payload.items()})
    if amount_minor < threshold_minor:
        return payload
    missing = [f for f in REQUIRED if payload is None or not getattr(payload, f).strip()]
    if payload is None or not any(getattr(payload, f).strip() for f in ORIGINATOR_IDENTIFIERS):
        missing.append("one of " + "/".join(ORIGINATOR_IDENTIFIERS))
    if missing:
        raise TravelRuleRequired(
            f"withdrawals of {format_amount(threshold_minor, asset, assets)} or more must carry travel-rule data "
            f"(FATF R.16); missing: {', '.join(missing)}", missing=missing)
    return payload
