"""The custodian's hot, warm and cold wallets: what each holds against the configuration's shares (operator
and regulator), and the rebalance that moves coins along the ladder to the targets (operator)."""
from __future__ import annotations

import marshmallow as ma
from flask_smorest import Blueprint

from sandbox.services import custody_tiers

from ..auth import access
from ..conventions import IDEMPOTENCY_PARAM, idempotent_write, require_city
from ..responses import json_response
from . import PREFIX
from .schemas import Strict

blp = Blueprint("custody", __name__, url_prefix=f"{PREFIX}/custody",
                description="Custody tiers: hot, warm and cold wallets")


def _by_tier(description: str) -> ma.fields.Dict:
    return ma.fields.Dict(keys=ma.fields.String(validate=ma.validate.OneOf(("hot", "warm", "cold"))),
                          values=ma.fields.Integer(), required=True, metadata={"description": description})


class MoveSchema(Strict):
    source = ma.fields.String(required=True)
    destination = ma.fields.String(required=True)
    amount_minor = ma.fields.Integer(required=True)
    txid = ma.fields.String(required=True)


class TiersSchema(Strict):
    asset = ma.fields.String(required=True)
    held_minor = _by_tier("confirmed on chain, satoshi; hot includes the deposit addresses (their keys are online)")
    shares_bps = _by_tier("each tier's share of the total, basis points")
    targets_bps = _by_tier("the configuration's shares: custody.hot_pct, custody.warm_pct, the rest cold")
    total_minor = ma.fields.Integer(required=True)
    moves = ma.fields.List(ma.fields.Nested(MoveSchema), required=True,
                           metadata={"description": "what a rebalance sent (none for a reading)"})


@blp.route("/tiers")
@access()
@blp.response(200, TiersSchema)
def tiers():
    """What the custodian's hot, warm and cold wallets hold of BTC now, against the targets."""
    city = require_city()
    return city.ctx.read(lambda uow: custody_tiers.tiers(city.ctx, uow).to_dict())


@blp.route("/rebalance", methods=["POST"])
@access()
@blp.response(200, TiersSchema)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def rebalance():
    """Move BTC between the tiers (hot <-> warm <-> cold) until each is within a percentage point of its
    target, and mine the block that confirms the moves; audited as ``custody.rebalanced``. Nothing to move:
    nothing sent."""
    city = require_city()

    def compute(uow):
        return custody_tiers.rebalance(city.ctx, uow, by="operator").to_dict(), 200
    return json_response(*idempotent_write(compute))
