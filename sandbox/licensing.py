"""Regulators, participants and licences on the sandbox clock.

Pure: a ``LicenceRegistry`` holds the state; the facade persists it (table ``sandbox_licences``)
and replaces a registry's states in place when another process changed them.
``require(participant, scope, at)`` is called before every regulated action.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from dateutil.relativedelta import relativedelta

from ledger.errors import DomainError

from .config.models import CityConfig


class LicensingError(DomainError):
    code = "licensing_error"


class NotLicensed(LicensingError):
    """A participant acted without a valid licence for that activity."""

    code = "not_licensed"

    def __init__(self, message: str, *, participant: str, scope: str, regulator: str | None,
                 licence_id: str | None = None, reason: str = "missing") -> None:
        super().__init__(message, participant=participant, scope=scope, regulator=regulator, licence_id=licence_id,
                         reason=reason)
        self.participant, self.scope, self.regulator = participant, scope, regulator
        self.licence_id, self.reason = licence_id, reason


class UnknownLicence(LicensingError):
    code = "unknown_licence"


class LicenceExpired(LicensingError):
    """A renewal asked for a licence that has already expired: the participant applies anew."""

    code = "licence_expired"


class RenewalTooEarly(LicensingError):
    """A renewal asked before the regulator takes applications: more than one renewal's length ahead of expiry
    (renewals cannot be stacked into a licence of any length)."""

    code = "renewal_too_early"


class RenewalTooLate(LicensingError):
    """A renewal asked later than the regulator's notice before expiry."""

    code = "renewal_too_late"


class ExitPlanRequired(LicensingError):
    """A renewal application without the exit plan the regulator asks for (AFSA's FinTech Lab): how the
    participant would wind its business down in order, customers paid out, if the licence ended."""

    code = "exit_plan_required"


MAX_EXIT_PLAN_CHARS = 2_000


class RenewalTooLong(LicensingError):
    """A renewal that would extend the licence further than the regulator grants at once."""

    code = "renewal_too_long"


@dataclass(frozen=True)
class RenewalRule:
    """A regulator's terms for renewing its licences (``config.models.Regulator``)."""
    notice_months: int = 0
    max_months: int | None = None
    exit_plan: bool = False   # an application must carry an exit plan


def months_before(at: datetime, months: int) -> datetime:
    """``at`` moved ``months`` calendar months back (the 31st becomes the month's last day); past the first or
    last year a datetime holds, as far as it goes."""
    try:
        return at - relativedelta(months=months)
    except (ValueError, OverflowError):
        return (datetime.min if months > 0 else datetime.max).replace(tzinfo=at.tzinfo)


@dataclass
class LicenceState:
    id: str
    participant: str
    regulator: str
    scope: str
    valid_from: datetime
    valid_until: datetime
    renewable: bool = True
    suspended_at: datetime | None = None
    suspension_reason: str | None = None
    history: list[tuple[datetime, str, str]] = field(default_factory=list)  # (at, action, reason)

    def status(self, at: datetime) -> str:
        """'active', 'suspended', 'not_yet_valid' or 'expired' at instant ``at``."""
        if self.suspended_at is not None and self.suspended_at <= at:
            return "suspended"
        if at < self.valid_from:
            return "not_yet_valid"
        if at >= self.valid_until:
            return "expired"
        return "active"


# The regulator that grants each scope by default, used to name it in refusals when none is held.
DEFAULT_REGULATOR_FOR_SCOPE = {"trading_facility": "aifc", "custody": "aifc", "stablecoin_issuer": "national_bank",
                               "crypto_card_pilot": "national_bank", "bank": "national_bank",
                               "zone_merchant": "zone_authority"}
MAX_HISTORY = 1000


class LicenceRegistry:
    """All licences of a city, keyed by licence id."""

    def __init__(self, licences: list[LicenceState], regulator_names: dict[str, str] | None = None,
                 regulator_by_kind: dict[str, str] | None = None,
                 renewal_rules: dict[str, RenewalRule] | None = None) -> None:
        self._by_id = {lic.id: lic for lic in licences}
        self.regulator_names = regulator_names or {}
        self._regulator_by_kind = regulator_by_kind or {}
        self._rules = renewal_rules or {}

    @classmethod
    def from_config(cls, cfg: CityConfig, states: list[LicenceState] | None = None) -> "LicenceRegistry":
        """The configuration's licences (or ``states``, e.g. read back from the database) with the
        configuration's regulator names."""
        if states is None:
            states = []
            for holder in list(cfg.participants) + list(cfg.merchants):
                for lic in holder.licences:
                    states.append(LicenceState(lic.id, holder.id, lic.regulator, lic.scope, lic.valid_from,
                                               lic.valid_until, lic.renewable))
        names = {cfg.mining.regulator_id: cfg.mining.regulator_name} | {r.id: r.name for r in cfg.regulators}
        rules = {r.id: RenewalRule(r.renewal_notice_months, r.max_renewal_months, r.renewal_requires_exit_plan)
                 for r in cfg.regulators}
        return cls(states, names, {r.kind: r.id for r in cfg.regulators}, rules)

    def states(self) -> list[LicenceState]:
        return list(self._by_id.values())

    def replace(self, other: "LicenceRegistry") -> None:
        """Take ``other``'s licence states (the rules engine keeps a reference to this registry)."""
        self._by_id = dict(other._by_id)

    def licences_of(self, participant: str) -> list[LicenceState]:
        return [lic for lic in self._by_id.values() if lic.participant == participant]

    def get(self, licence_id: str) -> LicenceState:
        try:
            return self._by_id[licence_id]
        except KeyError:
            raise UnknownLicence(f"no licence with id {licence_id!r}; known: {', '.join(sorted(self._by_id))}") from None

    def find(self, participant: str, scope: str) -> LicenceState | None:
        return next((lic for lic in self.licences_of(participant) if lic.scope == scope), None)

    def is_licensed(self, participant: str, scope: str, at: datetime) -> bool:
        return any(lic.scope == scope and lic.status(at) == "active" for lic in self.licences_of(participant))

    def require(self, participant: str, scope: str, at: datetime) -> LicenceState:
        """Return the active licence of ``participant`` for ``scope`` at ``at``, or raise NotLicensed.

        The message names the participant, the licence (scope and id) and the regulator.
        """
        held = [lic for lic in self.licences_of(participant) if lic.scope == scope]
        for lic in held:
            if lic.status(at) == "active":
                return lic
        if not held:
            reg = self._regulator_by_kind.get(DEFAULT_REGULATOR_FOR_SCOPE.get(scope, ""), None)
            reg_name = self.regulator_names.get(reg, reg or "the competent regulator")
            raise NotLicensed(f"{participant} holds no {scope} licence (granted by {reg_name}); "
                              f"this activity is refused", participant=participant, scope=scope, regulator=reg)
        lic = held[0]
        status = lic.status(at)
        reg_name = self.regulator_names.get(lic.regulator, lic.regulator)
        detail = {"suspended": f"suspended since {lic.suspended_at.isoformat() if lic.suspended_at else '?'}"
                               + (f" ({lic.suspension_reason})" if lic.suspension_reason else ""),
                  "expired": f"expired on {lic.valid_until.isoformat()}"
                             + (" (renewable on application)" if lic.renewable else ""),
                  "not_yet_valid": f"valid only from {lic.valid_from.isoformat()}"}[status]
        raise NotLicensed(f"{participant}'s {scope} licence {lic.id} from {reg_name} is {detail}; this activity is refused",
                          participant=participant, scope=scope, regulator=lic.regulator, licence_id=lic.id, reason=status)

    def suspend(self, licence_id: str, at: datetime, reason: str = "") -> LicenceState:
        """Suspend from ``at`` on; suspending a suspended licence changes nothing."""
        lic = self.get(licence_id)
        if lic.suspended_at is None:
            lic.suspended_at, lic.suspension_reason = at, reason or None
            self._log(lic, at, "suspend", reason)
        return lic

    def reinstate(self, licence_id: str, at: datetime, reason: str = "") -> LicenceState:
        lic = self.get(licence_id)
        if lic.suspended_at is not None:
            lic.suspended_at, lic.suspension_reason = None, None
            self._log(lic, at, "reinstate", reason)
        return lic

    def renew(self, licence_id: str, until: datetime, at: datetime, *,
              applied_at: datetime | None = None, exit_plan: str | None = None) -> LicenceState:
        """Extend ``licence_id`` to ``until``, decided at ``at`` on an application made at ``applied_at``
        (default: ``at``; the regulator's terms apply to when the participant applied) carrying
        ``exit_plan``. Refused, in this order: not renewable; applied after the decision; expired when
        applied for (an expired licence is applied for anew, not renewed); no exit plan where the regulator
        asks for one; applied for earlier than one renewal's length before expiry; later than the
        regulator's notice before expiry; not extending it; extending it further than the regulator grants
        at once."""
        lic = self.get(licence_id)
        if not lic.renewable:
            raise LicensingError(f"licence {lic.id} is not renewable")
        applied = at if applied_at is None else applied_at
        if applied > at:
            raise LicensingError(f"an application made at {applied.isoformat()} cannot be decided earlier, at "
                                 f"{at.isoformat()}")
        rule = self._rules.get(lic.regulator, RenewalRule())
        regulator = self.regulator_names.get(lic.regulator, lic.regulator)
        if applied >= lic.valid_until:
            raise LicenceExpired(f"licence {lic.id} expired on {lic.valid_until.isoformat()}: an expired licence "
                                 "is not renewed; the participant applies for a new one", licence_id=lic.id)
        if exit_plan is not None and (not isinstance(exit_plan, str) or len(exit_plan) > MAX_EXIT_PLAN_CHARS):
            raise LicensingError(f"an exit plan is a text of at most {MAX_EXIT_PLAN_CHARS} characters")
        if rule.exit_plan and not (exit_plan or "").strip():
            raise ExitPlanRequired(f"{regulator} renews licence {lic.id} only on an application with an exit plan "
                                   "(how the business would wind down in order, customers paid out)",
                                   licence_id=lic.id)
        if rule.max_months is not None:
            opens = months_before(lic.valid_until, rule.max_months)
            longest = months_before(lic.valid_until, -rule.max_months)   # that many months after it ends
            if applied < opens:
                raise RenewalTooEarly(f"{regulator} takes renewal applications for licence {lic.id} from "
                                      f"{opens.isoformat()}, {rule.max_months} months before it ends",
                                      licence_id=lic.id, opens=opens.isoformat())
        deadline = months_before(lic.valid_until, rule.notice_months)
        if rule.notice_months and applied > deadline:
            raise RenewalTooLate(f"{regulator} takes renewal applications at least {rule.notice_months} months "
                                 f"before a licence expires: licence {lic.id} had to be renewed by "
                                 f"{deadline.isoformat()}", licence_id=lic.id, deadline=deadline.isoformat())
        if until <= lic.valid_until:
            raise LicensingError(f"renewal must extend beyond {lic.valid_until.isoformat()}")
        if rule.max_months is not None and until > longest:
            raise RenewalTooLong(f"{regulator} renews a licence for at most {rule.max_months} months at a time: "
                                 f"licence {lic.id} can run to {longest.isoformat()} at most", licence_id=lic.id,
                                 longest=longest.isoformat())
        lic.valid_until = until
        self._log(lic, at, "renew", until.isoformat() + ("" if applied_at is None else
                                                           f" (applied {applied_at.isoformat()})"))
        return lic

    @staticmethod
    def _log(lic: LicenceState, at: datetime, action: str, reason: str) -> None:
        lic.history.append((at, action, reason))
        del lic.history[:-MAX_HISTORY]
