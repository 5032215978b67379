"""Incidents a workshop host sets off, as services on a unit of work (the caller commits).

Each kind has a real effect, made through the part of the city it concerns:

- ``price_crash`` {percent, minutes, assets?}: every listed asset's model price (default: every priced
  asset but the stablecoin USDT) falls by ``percent`` % in a straight line over ``minutes`` sandbox minutes
  from now and stays down. The market makers quote around the model price at each clock advance, so card
  purchases that sell crypto afterwards sell into the crashed book. ``walk`` (``follow_up``) moves the
  clock through those minutes at once, in up to ``WALK_STEPS`` advances.
- ``licence_suspended`` {licence_id?}: the licence (default: the exchange's trading-facility licence) is
  suspended — the exchange's books halt, and card purchases that need a crypto sale decline; resolving
  reinstates it.
- ``kzte_address_frozen`` {address}: the regulator freezes a KZTE holder address on chain; resolving
  unfreezes it.
- ``aml_alert_wave`` {count}: ``count`` card purchases at a merchant on the anti-fraud centre's blocklist,
  by customers of the city in turn (``follow_up``): each raises its AML flag (and is declined 59 where the
  rules decline).
- ``gateway_down``: the bank's decision gateway is unreachable: every authorization takes the programme's
  stand-in decision (``approve_with_sandbox_rules``, ``decline`` or ``tenge_only``), with no app asked;
  until resolved.
- ``chain_halt``: no blocks are mined: on-chain deposits are seen (pending) but do not confirm or credit,
  BTC withdrawals wait (broadcast with 0 confirmations, or for a hot-wallet refill that cannot confirm),
  farms mine nothing and the node's ``generatetoaddress`` is refused; resolving mines the deposits and
  the withdrawals to their confirmations, credits the deposits and confirms the withdrawals.

State lives in ``sandbox_incidents`` (every process reads it there); each start and resolution writes its
audit entry and its ``incident.started`` / ``incident.resolved`` event in the same transaction.
"""
from __future__ import annotations

from datetime import timedelta


from .. import audit, city_state, events
from ..errors import CityError
from . import tables
from .state import chain_halted, gateway_down, price_shocks  # noqa: F401 - the hot paths' reads, here too

KINDS = ("price_crash", "licence_suspended", "kzte_address_frozen", "aml_alert_wave", "gateway_down", "chain_halt")
ONE_AT_A_TIME = frozenset({"gateway_down", "chain_halt"})
MAX_PERCENT, MAX_MINUTES, MAX_WAVE = 95, 7 * 24 * 60, 50
WALK_STEPS = 10
STABLE = frozenset({"USDT", "KZTE", "KZT"})
LABELS = {"price_crash": "Price crash", "licence_suspended": "Licence suspended",
          "kzte_address_frozen": "KZTE address frozen", "aml_alert_wave": "AML alert wave",
          "gateway_down": "Decision gateway down", "chain_halt": "Chain halt"}


class InvalidIncident(CityError):
    code = "invalid_incident"


class IncidentNotFound(CityError):
    code = "incident_not_found"


class IncidentExists(CityError):
    """An incident of that kind is already going on (gateway down, chain halt: one at a time)."""
    code = "incident_exists"


def _int(params: dict, name: str, low: int, high: int, default: int | None = None) -> int:
    value = params.get(name, default)
    if value is None:
        raise InvalidIncident(f"{name} is required: a whole number from {low} to {high}", field=name)
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():   # not "²"
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidIncident(f"{name} must be a whole number from {low} to {high}, got {str(value)[:40]!r}",
                              field=name)
    return value


def check(city, kind: str, params: dict | None) -> dict:
    """The incident's parameters, checked and completed with their defaults; ``InvalidIncident`` for an
    unknown kind (first), then for the first bad parameter (in the order the kind lists them)."""
    if kind not in KINDS:
        raise InvalidIncident(f"unknown incident kind {str(kind)[:40]!r}; choose one of {', '.join(KINDS)}",
                              field="kind")
    params = dict(params or {})
    if kind == "price_crash":
        priced = sorted(a for a in city.exchange.price_model.dynamics if a not in STABLE)
        assets = params.get("assets") or priced
        if isinstance(assets, str):
            assets = [a.strip() for a in assets.split(",") if a.strip()]
        if not isinstance(assets, list) or not assets or any(a not in city.exchange.price_model.dynamics
                                                             for a in assets):
            raise InvalidIncident(f"assets must be some of {', '.join(priced)}", field="assets")
        return {"percent": _int(params, "percent", 1, MAX_PERCENT), "minutes": _int(params, "minutes", 1, MAX_MINUTES),
                "assets": sorted(set(assets)), "walk": params.get("walk", True) is not False}
    if kind == "licence_suspended":
        licence_id = params.get("licence_id") or city.licence_of("trading_facility")[1]
        if not isinstance(licence_id, str):
            raise InvalidIncident("licence_id is a licence id, like AFSA-TF-001", field="licence_id")
        return {"licence_id": licence_id}
    if kind == "kzte_address_frozen":
        address = params.get("address")
        if not isinstance(address, str) or not address.strip():
            raise InvalidIncident("address is required: the KZTE holder address (0x…) to freeze", field="address")
        from web3 import Web3
        address = address.strip()
        # one spelling per address (the checksummed one), so the incident names what the chain froze
        if not Web3.is_address(address):   # refused here, before the incident is written
            raise InvalidIncident(f"address must be a 0x… EVM address, not {address[:60]!r}", field="address")
        return {"address": Web3.to_checksum_address(address)}
    if kind == "aml_alert_wave":
        return {"count": _int(params, "count", 1, MAX_WAVE, default=5)}
    return {}


def start(city, uow, *, kind: str, params: dict | None = None, by: str = "operator") -> tables.IncidentRow:
    """Record the incident and make its immediate effect (see the module docstring) in ``uow``; the
    multi-step part of a price crash's walk and of an AML wave is ``follow_up``'s, after the commit."""
    params = check(city, kind, params)
    conn = uow.conn
    if kind in ONE_AT_A_TIME:   # checked under a lock: two processes never both open the same kind
        uow.advisory_lock(f"sandbox:incident:{kind}")
    if kind in ONE_AT_A_TIME and tables.open_of_kind(conn, kind) is not None:
        raise IncidentExists(f"a {LABELS[kind].lower()} incident is already going on; resolve it first", kind=kind)
    now = uow.now()
    incident_id = tables.insert_incident(conn, kind, params, at=now, by=by)
    reason = f"incident {incident_id}: {LABELS[kind].lower()}"
    outcome: dict = {}
    if kind == "price_crash":
        outcome = {"before_minor": {a: city.exchange.price_model.price_minor(a) for a in params["assets"]}}
        # every process reloads the crashes when the city's version moves (CityContext.begin); this one
        # prices with it at once, in this unit of work (the follow-up advance requotes the makers)
        city_state.bump_licences_version(conn)
        model = city.exchange.price_model
        previous = model.shocks
        model.shocks = price_shocks(conn)
        uow.after_rollback(lambda: setattr(model, "shocks", previous))
    elif kind == "licence_suspended":
        from ..services import licences
        outcome = {"state": licences.suspend_licence(city, uow, licence_id=params["licence_id"], reason=reason).state}
    elif kind == "kzte_address_frozen":
        from ..services import stablecoin
        stablecoin.set_address_frozen(city, uow, address=params["address"], frozen=True, by=by, reason=reason)
    if outcome:   # the insert stored an empty one
        tables.set_outcome(conn, incident_id, outcome)
    audit.append(uow, by, "incident.started", str(incident_id), {"kind": kind, **params})
    row = tables.get(conn, incident_id)
    events.emit(uow, "incident.started", {**row.to_dict(), "label": LABELS[kind]})
    return row


def resolve(city, uow, *, incident_id: int, by: str = "operator", outcome: dict | None = None
            ) -> tables.IncidentRow:
    """End the incident: reinstate the licence, unfreeze the address, bring the gateway back, restart the
    chain (mining the deposits it held and crediting them). Resolving a resolved incident changes nothing.
    A price crash's prices stay where they fell (the incident is closed, the market does not bounce)."""
    conn = uow.conn
    row = tables.get(conn, incident_id) if isinstance(incident_id, int) else None
    if row is None:
        raise IncidentNotFound(f"no incident {str(incident_id)[:20]}", incident_id=str(incident_id)[:20])
    if row.resolved_at is not None:
        return row
    reason = f"incident {row.id} resolved"
    done = dict(row.outcome, **(outcome or {}))
    if row.kind == "licence_suspended":
        from ..services import licences
        done["state"] = licences.reinstate_licence(city, uow, licence_id=row.params["licence_id"], reason=reason).state
    elif row.kind == "kzte_address_frozen":
        from ..services import stablecoin
        stablecoin.set_address_frozen(city, uow, address=row.params["address"], frozen=False, by=by, reason=reason)
    elif row.kind == "chain_halt":
        done["deposits_credited"] = _restart_chain(city, uow)
        from ..services import withdrawals
        done["withdrawals_confirmed"] = len(withdrawals.confirm_waiting(city, uow))
    elif row.kind == "price_crash":
        done["after_minor"] = {a: city.exchange.price_model.price_minor(a) for a in row.params["assets"]}
    tables.mark_resolved(conn, row.id, at=uow.now(), outcome=done)
    audit.append(uow, by, "incident.resolved", str(row.id), {"kind": row.kind})
    row = tables.get(conn, row.id)
    events.emit(uow, "incident.resolved", {**row.to_dict(), "label": LABELS[row.kind]})
    return row


def follow_up(facade, incident_id: int) -> tables.IncidentRow:
    """The steps of an incident that take several transactions, each its own (``facade``: the CryptoCity):
    a price crash's walk through its minutes, an AML wave's purchases; then those two are resolved.
    Safe to run again (a replayed request): the walk stops at the crash's end, the wave's purchases carry
    fixed references, resolving twice changes nothing."""
    row = facade.read(lambda ctx, uow: tables.get(uow.conn, incident_id))
    if row is None or row.resolved_at is not None or row.kind not in ("price_crash", "aml_alert_wave"):
        return row
    outcome: dict = {}
    if row.kind == "price_crash":
        if not row.params.get("walk", True):
            return row   # it unfolds as the host advances the clock; resolve closes it
        end = row.started_at + timedelta(minutes=row.params["minutes"])
        step = max(timedelta(minutes=1), timedelta(minutes=row.params["minutes"]) / WALK_STEPS)
        while facade.now() < end:
            facade.advance(min(step, end - facade.now()))
    else:
        outcome = _aml_wave(facade, row)
    return facade.run(resolve, incident_id=row.id, by=row.started_by, outcome=outcome)


def _aml_wave(facade, row) -> dict:
    from ..services import customers as customer_service
    blocked = list(facade.cfg.aml.blocklists.merchants)
    if not blocked:
        return {"purchases": 0, "flags_raised": 0, "why": "this city's anti-fraud centre blocklists no merchant"}
    tiers = facade.cfg.kyc.tiers
    # customers whose KYC tier may pay (a tier that may not is declined before the AML rules look)
    people = facade.read(lambda ctx, uow: [c.customer_id for c in customer_service.customers(uow, limit=100)
                                           if c.kyc_tier in tiers and tiers[c.kyc_tier].can_pay])
    flags = purchases = 0
    for n in range(row.params["count"]):
        if not people:
            break
        actor = people[n % len(people)]
        result = facade.pay(actor=actor, merchant=blocked[0], amount_minor=5_000_00, ref=f"incident-{row.id}-aml-{n + 1}")
        purchases += 1
        flags += len(result.flags)
    return {"purchases": purchases, "flags_raised": flags, "merchant": blocked[0]}


def _restart_chain(city, uow) -> int:
    """Mine the held deposits to their confirmations and credit them (each with its ``deposit.confirmed``)."""
    confirmations = max(1, city.cfg.custody.confirmations.get("BTC", 1))
    with city.custody_lock:
        city.btc_node.lock(uow)   # the chain is in the database: any process restarts it
        city.btc_node.mine(confirmations, uow=uow)
        credited = city.custodian.scan(uow=uow)
    for dep in credited:
        events.emit(uow, "deposit.confirmed", {"object": "deposit", "customer": dep.get("owner"), "asset": dep.get("asset"),
                                               "amount_minor": dep.get("amount_minor"), "source": "onchain",
                                               "txid": dep.get("txid"), "confirmations": confirmations},
                    customer=dep.get("owner"))
    return len(credited)


# the hot paths' reads live in state.py
def listing(uow, limit: int = 50) -> list[tables.IncidentRow]:
    return tables.latest(uow.conn, limit)
