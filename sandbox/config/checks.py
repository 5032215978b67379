"""Regulatory and referential constraints a schema alone cannot express.

Each check returns (key path, message); the order is fixed so messages are stable.
"""
from __future__ import annotations

from .models import CityConfig

# Which kind of regulator may grant which licence scope (Kazakhstan, 2025).
SCOPE_REGULATOR_KIND = {
    "trading_facility": {"aifc"},
    "custody": {"aifc"},
    "stablecoin_issuer": {"national_bank"},  # AIFC rules do not allow the tenge as a stablecoin reserve currency
    "crypto_card_pilot": {"national_bank"},
    "bank": {"national_bank"},
    "zone_merchant": {"zone_authority"},
}


def check_constraints(cfg: CityConfig) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    add = problems.append
    regulators = {r.id: r for r in cfg.regulators}
    participants = {p.id: p for p in cfg.participants}
    assets = {a.code: a for a in cfg.assets}

    for i, reg_id in _dupes([r.id for r in cfg.regulators]):
        add((f"regulators[{i}].id", f"duplicate regulator id {reg_id!r}"))
    for i, pid in _dupes([p.id for p in cfg.participants] + [m.id for m in cfg.merchants]):
        add((f"participants[{i}].id", f"duplicate participant/merchant id {pid!r}"))
    for i, code in _dupes([a.code for a in cfg.assets]):
        add((f"assets[{i}].code", f"duplicate asset {code!r}"))

    def check_licences(prefix: str, licences) -> None:
        for j, lic in enumerate(licences):
            path = f"{prefix}.licences[{j}]"
            reg = regulators.get(lic.regulator)
            if reg is None:
                add((f"{path}.regulator", f"unknown regulator {lic.regulator!r}; declared regulators: {', '.join(regulators)}"))
            elif reg.kind not in SCOPE_REGULATOR_KIND[lic.scope]:
                allowed = ", ".join(r.id for r in cfg.regulators if r.kind in SCOPE_REGULATOR_KIND[lic.scope])
                why = ""
                if lic.scope == "stablecoin_issuer":
                    why = (" (AIFC rules do not allow the tenge as the reserve currency of a fiat stablecoin, "
                           "so a KZTE issuer must sit in the National Bank's sandbox, not under AFSA)")
                add((f"{path}.regulator", f"a {lic.scope} licence cannot come from {reg.id} ({reg.kind}){why}; "
                     f"allowed: {allowed or 'a ' + '/'.join(SCOPE_REGULATOR_KIND[lic.scope]) + ' regulator'}"))
            if lic.valid_until <= lic.valid_from:
                add((f"{path}.valid_until", f"must be after valid_from ({lic.valid_from.isoformat()})"))

    for i, p in enumerate(cfg.participants):
        check_licences(f"participants[{i}]", p.licences)
    for i, m in enumerate(cfg.merchants):
        check_licences(f"merchants[{i}]", m.licences)

    for i, a in enumerate(cfg.assets):
        if a.code in ("KZT", "KZTE") and a.decimals != 2:
            add((f"assets[{i}].decimals", f"{a.code} has 2 decimals (tiyn), got {a.decimals}"))
    if "KZT" not in assets:
        add(("assets", "the tenge (KZT) must be declared: card purchases settle in KZT"))

    for i, ins in enumerate(cfg.instruments):
        for side in ("base", "quote"):
            code = getattr(ins, side)
            if code not in assets:
                add((f"instruments[{i}].{side}", f"{code!r} is not a declared asset; declared: {', '.join(assets)}"))
        if ins.symbol != f"{ins.base}/{ins.quote}":
            add((f"instruments[{i}].symbol", f"must be '{ins.base}/{ins.quote}' (base/quote)"))
    symbols = {ins.symbol for ins in cfg.instruments}
    for i, mm in enumerate(cfg.market_makers):
        if mm.instrument not in symbols:
            add((f"market_makers[{i}].instrument", f"{mm.instrument!r} is not a declared instrument; declared: {', '.join(sorted(symbols)) or 'none'}"))
        elif cfg.stablecoin.symbol in mm.instrument.split("/"):
            # Market makers are funded from outside the city; stablecoin from outside would be unbacked
            # (KZTE exists only when minted against tenge in the reserve), breaking the peg check.
            add((f"market_makers[{i}].instrument", f"{mm.instrument!r} trades {cfg.stablecoin.symbol}, which a "
                 "market maker cannot be funded in (every unit must be minted against tenge); quote it on a "
                 "pair without the stablecoin, or let customers' own orders make that market"))

    def needs(path: str, pid: str, scope: str) -> None:
        p = participants.get(pid)
        if p is None:
            add((path, f"unknown participant {pid!r}; declared participants: {', '.join(participants)}"))
        elif not any(lic.scope == scope for lic in p.licences):
            add((path, f"participant {pid!r} holds no {scope} licence; add one from an allowed regulator"))

    needs("custody.custodian", cfg.custody.custodian, "custody")
    for code in cfg.custody.confirmations:
        if code not in assets:
            add((f"custody.confirmations.{code}", f"{code!r} is not a declared asset"))

    sc = cfg.stablecoin
    needs("stablecoin.issuer", sc.issuer, "stablecoin_issuer")
    if sc.symbol not in assets:
        add(("stablecoin.symbol", f"{sc.symbol!r} is not a declared asset"))
    if sc.reserve_currency not in assets:
        add(("stablecoin.reserve_currency", f"{sc.reserve_currency!r} is not a declared asset"))

    needs("card.issuer", cfg.card.issuer, "crypto_card_pilot")
    for j, code in enumerate(cfg.card.funding_order):
        if code not in assets:
            add((f"card.funding_order[{j}]", f"{code!r} is not a declared asset; declared: {', '.join(assets)}"))
        elif code not in ("KZT", "KZTE") and not any(ins.base == code and ins.quote in ("KZT", "KZTE") for ins in cfg.instruments):
            add((f"card.funding_order[{j}]", f"{code} cannot fund a card: no {code}/KZT or {code}/KZTE instrument to sell it on"))
    for j, _ in _dupes(cfg.card.funding_order):
        add((f"card.funding_order[{j}]", "an asset may appear only once in the funding order"))
    if cfg.card.per_transaction_limit_minor > cfg.card.daily_limit_minor:
        add(("card.per_transaction_limit_minor", "must not exceed card.daily_limit_minor"))

    for tier in ("none", "basic", "full"):
        if tier not in cfg.kyc.tiers:
            add((f"kyc.tiers.{tier}", "required tier is missing; tiers: none, basic, full"))
    none = cfg.kyc.tiers.get("none")
    if none is not None and (none.can_pay or none.can_trade):
        add(("kyc.tiers.none", "a customer without KYC may do nothing: can_pay and can_trade must be false"))

    for i, m in enumerate(cfg.merchants):
        if m.in_zone and not any(lic.scope == "zone_merchant" for lic in m.licences):
            add((f"merchants[{i}].licences", f"merchant {m.id!r} is in the zone but holds no zone_merchant licence"))
    if cfg.tax.residency_days_aifc_investor > cfg.tax.residency_days:
        add(("tax.residency_days_aifc_investor", "must not exceed tax.residency_days"))
    return problems


def _dupes(values: list[str]):
    seen: set[str] = set()
    for i, v in enumerate(values):
        if v in seen:
            yield i, v
        seen.add(v)
