"""Texts the dashboard shows that are not in a template: the card's decline reasons (one per ISO
response code, ``card.response_codes.REASONS``; a test keeps this list equal to it), an authorization's
status, the clearing buttons and the incidents. Marked here for the catalogues; translated where they are
shown."""
from __future__ import annotations

from . import N_

DECLINE_REASONS = (
    N_('approved'),   # 00
    N_('do not honor'),   # 05
    N_('partial approval'),   # 10
    N_('invalid amount'),   # 13
    N_('invalid card number'),   # 14
    N_('insufficient funds: tenge plus crypto cannot cover the amount'),   # 51
    N_('expired card'),   # 54
    N_('transaction not permitted to cardholder'),   # 57
    N_('suspected fraud'),   # 59
    N_('exceeds amount limit'),   # 61
    N_('restricted card (frozen or closed)'),   # 62
    N_('exceeds frequency limit'),   # 65
    N_('issuer or funding unavailable'),   # 91
    N_("original amount incorrect: the capture is more than the authorized amount plus "
       "the tip tolerance of the merchant's category"),   # 64
    N_('duplicate transmission'),   # 94
    N_('system error'),   # 96
    N_("CVV2 mismatch: the card verification value does not match the card's"),   # N7
)

STATUSES = (N_("approved"), N_("declined"))

CLEARING_ACTIONS = (N_("Capture"), N_("Reverse"), N_("Refund"))

# the incidents a workshop host sets off (``sandbox.incidents.service.LABELS``; a test keeps them equal)
INCIDENT_LABELS = (N_("Price crash"), N_("Licence suspended"), N_("KZTE address frozen"), N_("AML alert wave"),
                   N_("Decision gateway down"), N_("Chain halt"))
