"""Ledger-wide checks for the operator and the regulator."""
from __future__ import annotations

import marshmallow as ma
from flask_smorest import Blueprint

from ledger.errors import InvariantViolation

from ..auth import access
from ..services import services
from . import PREFIX
from .schemas import Strict

blp = Blueprint("ledger", __name__, url_prefix=f"{PREFIX}/ledger", description="Ledger invariants")


class VerifySchema(Strict):
    ok = ma.fields.Boolean(required=True)
    summary = ma.fields.String(required=True)
    checks = ma.fields.List(ma.fields.String(), required=True)
    problem = ma.fields.String(allow_none=True, required=True)


@blp.route("/verify")
@access("regulator")
@blp.response(200, VerifySchema)
def verify():
    """Prove the invariants: every asset sums to zero, balances equal their entries, no overdraft."""
    try:
        report = services().ledger.verify()
    except InvariantViolation as violation:
        return {"ok": False, "summary": "an invariant is broken", "checks": [], "problem": str(violation)}
    return {"ok": True, "summary": report.summary(), "checks": list(report.checks), "problem": None}
