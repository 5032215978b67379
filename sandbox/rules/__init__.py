"""Sandbox rules around a card purchase: KYC tiers, AML, licences, the regime.

``evaluate(...)`` is pure; ``SandboxRules`` adapts it to the card's Rules port.
"""
from .decision import CustomerProfile, Flag, PastAuthorization, RulesDecision
from .engine import SandboxRules, evaluate

__all__ = ["CustomerProfile", "Flag", "PastAuthorization", "RulesDecision", "SandboxRules", "evaluate"]
