"""card — the crypto card: bank accounts with KZ IBANs, virtual cards, spend controls, authorization
with just-in-time crypto funding through a Funder port, clearing, reversal, refund, statements.

    from card import CardService, FundingSettings, SpendControls
    cards = CardService(ledger, funder, rules)
    card, cvv = cards.issue_card("cust:1")
    result = cards.authorize(card_id=card.id, amount_minor=5_000_00, merchant_id="cafe", idempotency_key="k1")
"""
from . import response_codes
from .authorization import AuthorizationResult
from .controls import DEFAULT_BLOCKED_MCCS, ScopedLimit, SpendControls, Usage
from .errors import CardError
from .funding import FundingPlan, FundingSettings, plan_funding
from .iban import make_iban, validate_iban
from .issuing import BankAccount, Card, MerchantRecord
from .pan import make_pan
from .policy import ClearingPolicy
from .ports import (AllowAll, AuthorizationContext, Capacity, Funder, FundingLeg, FundingShort, FundingUnavailable,
                    Merchant, Rules, RulesDecision)
from .service import CardService
from .simple_funder import FixedPriceFunder

__all__ = ["response_codes", "AuthorizationResult", "DEFAULT_BLOCKED_MCCS", "ScopedLimit", "SpendControls", "Usage", "CardError",
           "FundingPlan", "FundingSettings", "plan_funding", "make_iban", "validate_iban", "BankAccount", "Card",
           "MerchantRecord", "make_pan", "AllowAll", "AuthorizationContext", "Capacity", "Funder", "FundingLeg",
           "FundingShort", "FundingUnavailable", "Merchant", "Rules", "RulesDecision", "CardService",
           "FixedPriceFunder", "ClearingPolicy"]
