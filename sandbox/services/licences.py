"""Licences: the regulators' suspensions, reinstatements and renewals, for every process.

A change is made to the states as the database has them, under the licences' lock, and committed with
its audit entry and a new licence version; every process picks it up by that version at the start of
its next unit of work (``CityContext.begin``). Suspending the exchange's trading-facility licence also
halts its books until it is reinstated."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .. import audit, city_state, events
from ..clock import utc
from ..context import CityContext
from ..errors import InvalidDate
from ..licensing import LicenceRegistry
from .result import Result


LICENCE_EVENTS = {"suspend": "licence.suspended", "reinstate": "licence.reinstated", "renew": "licence.renewed"}


@dataclass(frozen=True)
class LicenceChanged(Result):
    licence: str
    state: str
    changed: bool = True
    status: str = "ok"


def suspend_licence(city: CityContext, uow, *, licence_id: str, reason: str = "") -> LicenceChanged:
    """Suspend a licence from now on (suspending a suspended licence changes nothing)."""
    return _change(city, uow, "suspend", licence_id, reason)


def reinstate_licence(city: CityContext, uow, *, licence_id: str, reason: str = "") -> LicenceChanged:
    """Lift a suspension (reinstating an active licence changes nothing)."""
    return _change(city, uow, "reinstate", licence_id, reason)


def renew_licence(city: CityContext, uow, *, licence_id: str, valid_until: datetime, reason: str = "",
                  applied_at: datetime | None = None, exit_plan: str | None = None) -> LicenceChanged:
    """Extend a renewable licence to ``valid_until`` on its regulator's terms, for an application made at
    ``applied_at`` (default now) carrying ``exit_plan`` (``LicenceRegistry.renew``): refused with
    ``licensing_error`` if it is not renewable or the date does not extend it, and with ``licence_expired``,
    ``exit_plan_required``, ``renewal_too_early``, ``renewal_too_late`` or ``renewal_too_long``."""
    if not isinstance(valid_until, datetime):
        raise InvalidDate(f"valid_until is a date and time, got {valid_until!r}")
    if applied_at is not None and not isinstance(applied_at, datetime):
        raise InvalidDate(f"applied_at is a date and time, got {applied_at!r}")
    return _change(city, uow, "renew", licence_id, reason, until=utc(valid_until),
                   applied_at=None if applied_at is None else utc(applied_at), exit_plan=exit_plan)


def _change(city: CityContext, uow, verb: str, licence_id: str, reason: str,
            until: datetime | None = None, applied_at: datetime | None = None,
            exit_plan: str | None = None) -> LicenceChanged:
    uow.advisory_lock(city_state.LICENCE_LOCK)
    now = uow.now()
    registry = LicenceRegistry.from_config(city.cfg, city_state.load_licences(uow.conn))
    before = registry.get(licence_id)
    before = (before.suspended_at, before.valid_until)
    if verb == "renew":
        lic = registry.renew(licence_id, until, now, applied_at=applied_at, exit_plan=exit_plan)
    else:
        lic = getattr(registry, verb)(licence_id, now, reason or "")
    if (lic.suspended_at, lic.valid_until) == before:
        return LicenceChanged(licence_id, lic.status(now), changed=False)
    city_state.save_licence(uow.conn, lic)
    version = city_state.bump_licences_version(uow.conn)
    details = {"participant": lic.participant, "scope": lic.scope, "reason": reason or ""}
    if verb == "renew":
        details["valid_until"] = lic.valid_until.isoformat()
        if applied_at is not None:
            details["applied_at"] = applied_at.isoformat()
        if exit_plan and exit_plan.strip():
            details["exit_plan"] = exit_plan
    audit.append(uow, lic.regulator, f"licence.{verb}", licence_id, details)
    events.emit(uow, LICENCE_EVENTS[verb], {"object": "licence", "licence_id": licence_id, "participant": lic.participant,
                                            "regulator": lic.regulator, "scope": lic.scope, "status": lic.status(now),
                                            "valid_until": lic.valid_until.isoformat(), "reason": reason or ""})

    def publish() -> None:
        city.install_licences(registry, version)
        city.apply_trading(now)
    uow.after_commit(publish)
    return LicenceChanged(licence_id, lic.status(now))
