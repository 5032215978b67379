"""How long a purchase's hold reserves the money: about a week, as the card networks let an authorization
stand, and longer where the final amount is known only at the end of a stay or a rental — lodging, cruises
and vehicle rental, the networks' extended authorizations (Mastercard 30 days, Visa 31)."""
from __future__ import annotations

DEFAULT_HOLD_DAYS = 7
DEFAULT_EXTENDED_HOLD_DAYS = 30

# Lodging: hotels and motels (7011) and the hotel chains' own codes (3501-3999); cruise lines (4411); vehicle
# rental: car rental agencies (7512), the rental chains' own codes (3351-3500), truck (7513) and motor home
# (7519) rental.
_EXTENDED = ((7011, 7011), (3501, 3999), (4411, 4411), (7512, 7513), (7519, 7519), (3351, 3500))


def is_extended(mcc: str) -> bool:
    """Whether a merchant of category ``mcc`` gets an extended authorization (lodging, cruises, vehicle
    rental)."""
    if not (isinstance(mcc, str) and len(mcc) == 4 and mcc.isdigit()):
        return False
    code = int(mcc)
    return any(low <= code <= high for low, high in _EXTENDED)


def hold_days(mcc: str, *, standard_days: int, extended_days: int) -> int:
    """Days a hold at a merchant of category ``mcc`` lasts on the sandbox clock."""
    return extended_days if is_extended(mcc) else standard_days


def hold_days_at(service, mcc: str) -> int:
    """Days a hold at a merchant of category ``mcc`` lasts under ``service``'s programme (``CardService``)."""
    return hold_days(mcc, standard_days=service.hold_days, extended_days=service.extended_hold_days)
