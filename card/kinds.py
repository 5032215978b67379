"""What a network message asks for: a purchase, an ATM withdrawal (cash) or a person-to-person transfer.

The kind is the request's ``kind``, except that the merchant's category decides when it names one:
a terminal with a cash MCC (6010, 6011) is an ATM withdrawal and one with a money-transfer MCC (4829,
6012) is a P2P transfer whatever the message says, so a label cannot get cash past the programme.

The programme permits kinds (``CardService.permitted_kinds``): the 2025 pilot permitted purchases only,
so an ATM withdrawal or a P2P transfer declines 57. A programme that permits them also stops blocking
their categories (``programme_blocked_mccs``), and the withdrawal then debits the bank account like a
purchase (crypto sold just in time for any shortfall).
"""
from __future__ import annotations

from .controls import CASH_MCCS, P2P_MCCS
from .errors import InvalidRequest

PURCHASE, ATM_WITHDRAWAL, P2P = "purchase", "atm_withdrawal", "p2p"
KINDS = (PURCHASE, ATM_WITHDRAWAL, P2P)
PILOT_KINDS = frozenset({PURCHASE})
# What a row records when no authorization came first (card/force_post.py): cleared without one, and a
# refund with no purchase.
FORCE_POST, UNLINKED_REFUND = "force_post", "unlinked_refund"
MCCS_OF: dict[str, frozenset[str]] = {ATM_WITHDRAWAL: CASH_MCCS, P2P: P2P_MCCS}
_KIND_OF_MCC = {mcc: kind for kind, mccs in MCCS_OF.items() for mcc in mccs}
_SAID = {ATM_WITHDRAWAL: "ATM withdrawals (cash)", P2P: "person-to-person transfers"}


def check(kind: str | None) -> str:
    """``kind`` if it is one of ``KINDS`` (None is a purchase); ``InvalidRequest`` otherwise."""
    if kind is None:
        return PURCHASE
    if kind not in KINDS:
        raise InvalidRequest(f"kind must be one of {', '.join(KINDS)}, got {str(kind)[:40]!r}")
    return kind


def resolve(requested: str, mcc: str | None) -> str:
    """The message's kind: the merchant category's when it names one, else the requested kind."""
    return _KIND_OF_MCC.get(mcc or "", requested)


def refusal(kind: str, permitted: frozenset[str]) -> str | None:
    """The 57 reason when the programme does not permit ``kind``; None when it does."""
    if kind in permitted:
        return None
    return f"{_SAID.get(kind, kind)} are not permitted under this card programme"


def programme_blocked_mccs(blocked: frozenset[str] | set[str], permitted: frozenset[str]) -> frozenset[str]:
    """The programme's blocked categories less those of the kinds it permits."""
    out = set(blocked)
    for kind in permitted:
        out -= MCCS_OF.get(kind, frozenset())
    return frozenset(out)
