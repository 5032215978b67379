"""The card verbs of the ``CryptoCity`` facade (a mixin: each runs one service in one transaction) — the
card network's side: purchases and their clearing, network messages, the decision gateway, cards."""
from __future__ import annotations

from .services import (advices, card_verification, cards, customers, incremental, merchants, network_messages,
                       payments)
from .services.payments import PaymentResult


class CardVerbs:
    """Authorize, capture, reverse, refund, increment, advise, force post, expire; cards and merchants
    (see ``sandbox/services/payments.py`` and its neighbours, docs/card.md)."""

    def pay(self, *, actor: str, merchant: str, amount_minor: int, ref: str, channel: str | None = None,
            expiry: str | None = None, cvv: str | None = None, kind: str | None = None) -> PaymentResult:
        """See ``services.payments.pay``. ``channel`` ``card_present`` (the default: a tap) or
        ``card_not_present`` with the card's ``expiry`` (MM/YY) and ``cvv`` (checked: 54, N7); ``kind``:
        purchase, atm_withdrawal or p2p. The card programme's decision app, if any, is asked first, with no
        transaction open (sandbox/gateway/)."""
        from . import gateway
        presented = card_verification.presented(channel, expiry, cvv)
        decision = gateway.decide_pay(self.ctx, actor=actor, merchant=merchant, amount_minor=amount_minor, ref=ref)
        return self.run(payments.pay, actor=actor, merchant=merchant, amount_minor=amount_minor, ref=ref,
                        presented=presented, kind=kind, decision=decision)

    def set_decision_url(self, url: str, *, secret: str | None = None, deadline_ms: int | None = None,
                         stand_in: str | None = None, card_id: int | None = None) -> str:
        """Let the app at ``url`` decide the programme's purchases (or only card ``card_id``'s); returns the
        signing secret (``secret``, or a new whsec_ one). See ``PUT /api/v1/card-programme/decision``."""
        from .gateway import admin
        return self.run(admin.set_url, url=url, secret=secret, deadline_ms=deadline_ms, stand_in=stand_in,
                        card_id=card_id)

    def remove_decision_url(self, *, card_id: int | None = None) -> bool:
        """Stop asking the programme's (or card ``card_id``'s) decision app; False if none was set."""
        from .gateway import admin
        return self.run(admin.remove_url, card_id=card_id)

    def capture(self, *, ref: str, amount_minor: int | None = None, key: str | None = None, final: bool = True):
        """Clear the purchase ``ref`` (all, or ``amount_minor``); ``final=False`` keeps the rest of the hold for
        another partial capture; a final capture may go over within the merchant category's tolerance."""
        return self.run(payments.capture, ref=ref, amount_minor=amount_minor, key=key, final=final)

    def expire(self, *, ref: str, key: str | None = None):
        """Release what is left of the purchase's hold now (``authorization.expired``)."""
        return self.run(network_messages.expire_ref, ref=ref, key=key)

    def force_post(self, *, actor: str, merchant: str, amount_minor: int, ref: str):
        """A clearing with no authorization: crypto sold just in time, the merchant paid now."""
        return self.run(network_messages.force_post_by, actor=actor, merchant=merchant, amount_minor=amount_minor,
                        ref=ref)

    def unlinked_refund(self, *, actor: str, merchant: str, amount_minor: int, ref: str):
        """A refund with no original purchase: the merchant pays the actor's bank account."""
        return self.run(network_messages.unlinked_refund_by, actor=actor, merchant=merchant,
                        amount_minor=amount_minor, ref=ref)

    def reverse(self, *, ref: str, amount_minor: int | None = None, key: str | None = None):
        return self.run(payments.reverse, ref=ref, amount_minor=amount_minor, key=key)

    def refund(self, *, ref: str, amount_minor: int | None = None, key: str | None = None):
        return self.run(payments.refund, ref=ref, amount_minor=amount_minor, key=key)

    def increment(self, *, ref: str, amount_minor: int, key: str | None = None) -> incremental.IncrementDone:
        """See ``services.incremental.increment``: a bigger hold on the purchase ``ref`` (hotels, car rental)."""
        return self.run(incremental.increment, ref=ref, amount_minor=amount_minor, key=key)

    def advise(self, *, actor: str, merchant: str, amount_minor: int, ref: str,
               kind: str | None = None) -> advices.AdviceBooked:
        """See ``services.advices.advise``: book the network's stand-in approval (tenge, then crypto, then a
        debt on the programme's credit line)."""
        return self.run(advices.advise, actor=actor, merchant=merchant, amount_minor=amount_minor, ref=ref, kind=kind)

    def card_debt(self, actor: str) -> int:
        """What ``actor`` owes the programme's credit line after advices booked short (tiyn)."""
        return self.read(advices.debt, actor).debt_minor

    def repay_card_debt(self, *, actor: str, amount_minor: int | None = None) -> advices.CardDebt:
        """See ``services.advices.repay_debt``."""
        return self.run(advices.repay_debt, actor=actor, amount_minor=amount_minor)

    def register_merchant(self, *, merchant_id: str, name: str, mcc: str, in_zone: bool = True):
        return self.run(merchants.register_merchant, merchant_id=merchant_id, name=name, mcc=mcc, in_zone=in_zone)

    def freeze_card(self, *, card_id: int, by: str):
        return self.run(cards.freeze_card, card_id=card_id, by=by)

    def unfreeze_card(self, *, card_id: int, by: str):
        return self.run(cards.unfreeze_card, card_id=card_id, by=by)

    def set_card_controls(self, *, actor: str, changes: dict):
        """Change the named spend controls of ``actor``'s card (the API's names; the others stay), as its
        holder would: tightening the programme's limits only."""
        return self.run(cards.change_controls, actor=actor, changes=changes)

    def card_details(self, actor: str) -> dict:
        """The expiry and CVV of the actor's card, as its holder would type them (the operator's reveal)."""
        card_id = self.ctx.read(lambda uow: customers.require(uow, actor).card_id)
        revealed = self.reveal_card(card_id=card_id, by="operator")
        return {"expiry": revealed.expiry, "cvv": revealed.cvv}

    def reveal_card(self, *, card_id: int, by: str = "operator") -> card_verification.RevealedCard:
        """The card's full number, expiry and CVV (operator only at the API), audited as ``card.revealed``."""
        return self.run(card_verification.reveal_card, card_id=card_id, by=by)
