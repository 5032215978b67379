"""Typed refusals of the mining package: one class per refusal, each with a constant ``code``."""
from __future__ import annotations

from ledger.errors import DomainError


class MiningError(DomainError):
    code = "mining_error"


class InvalidFarm(MiningError):
    """A farm's declared parameters are out of range (checked in a fixed order: id, location, power
    source, hash rate, efficiency, maximum load, sell share)."""
    code = "invalid_farm"


class FarmExists(MiningError):
    code = "farm_exists"


class LicenceIdTaken(MiningError):
    """The farm's licence id is already another licence's: a farm never takes over a licence it was not
    granted (suspending the farm would suspend that licence)."""
    code = "licence_id_taken"


class UnknownFarm(MiningError):
    code = "unknown_farm"


class FarmClosed(MiningError):
    """The regulator closed the farm: it neither mines, consumes, pays nor sells any more."""
    code = "farm_closed"


class TooManyFarms(MiningError):
    """The city has as many farms as it keeps (``store.MAX_ROWS``): every advance meters each of them."""
    code = "too_many_farms"


class PowerAllocationExceeded(MiningError):
    """Registering the farm would take the licensed farms' total load past the power allotted to mining."""
    code = "power_allocation_exceeded"


class LevyUnpaid(MiningError):
    """The farm's tenge account cannot pay the levy it owes."""
    code = "levy_unpaid"


class NothingOwed(MiningError):
    code = "nothing_owed"


class NoUnexplainedLoad(MiningError):
    """Closing a farm needs an open case at its location (the grid operator's readings first)."""
    code = "no_case"
