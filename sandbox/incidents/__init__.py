"""Incidents a workshop host sets off from the dashboard or the API (``POST /api/v1/incidents``): a price
crash, a licence suspended, a KZTE address frozen, an AML alert wave, the decision gateway down, a chain
halt. See ``service`` for what each does; ``tables`` holds their state for every process."""
from .service import (KINDS, LABELS, IncidentExists, IncidentNotFound, InvalidIncident, chain_halted, check,
                      follow_up, gateway_down, listing, price_shocks, resolve, start)

__all__ = ["KINDS", "LABELS", "IncidentExists", "IncidentNotFound", "InvalidIncident", "chain_halted", "check",
           "follow_up", "gateway_down", "listing", "price_shocks", "resolve", "start"]


def trigger(facade, kind: str, params: dict | None = None, *, by: str = "operator"):
    """Start an incident on ``facade`` (a CryptoCity) and run its follow-up; the incident as it stands after."""
    row = facade.run(start, kind=kind, params=params, by=by)
    return follow_up(facade, row.id)
