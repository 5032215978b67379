"""Mining: farms, their power, levy and coins, the grid operator's detection and the regulator's cases
(docs/mining.md). Reading is for the operator and the regulator; registering a farm and its meter are the
operator's; detection and closing a farm are the regulator's (and the operator's)."""
from __future__ import annotations

import marshmallow as ma
from flask_smorest import Blueprint

from sandbox.services import mining as mining_service
from sandbox.services import mining_cases, mining_reports

from ..auth import access
from ..conventions import IDEMPOTENCY_PARAM, city_read, idempotent_write, install_converters, require_city
from ..responses import json_response
from . import PREFIX
from .schemas import Strict

blp = Blueprint("mining", __name__, url_prefix=f"{PREFIX}/mining", description="Mining farms, levy, detection")
install_converters(blp)


class MiningSummary(Strict):
    regulator = ma.fields.Dict(required=True)
    rates = ma.fields.Dict(required=True, metadata={"description": "levy rates in tiyn per kWh, period, grace"})
    licensed_farms = ma.fields.Integer(required=True)
    licensed_load_kw = ma.fields.String(required=True)
    surplus_power_mw = ma.fields.Integer(allow_none=True, required=True)
    farms = ma.fields.List(ma.fields.Dict(), required=True)
    totals = ma.fields.Dict(required=True)
    cases = ma.fields.List(ma.fields.Dict(), required=True)
    flags = ma.fields.List(ma.fields.Dict(), required=True)
    seized_btc_sat = ma.fields.Integer(required=True)
    levy_revenue_minor = ma.fields.Integer(required=True)


class FarmIn(Strict):
    farm = ma.fields.String(required=True, metadata={"description": "an onboarded customer (the farm's company)",
                                                     "x-names-something": True})   # 404 when it is not
    location = ma.fields.String(required=True, metadata={"example": "ekibastuz"})
    power_source = ma.fields.String(load_default="grid", validate=ma.validate.OneOf(["grid", "own_offgrid"]))
    hashrate_ths = ma.fields.Integer(required=True, strict=True, validate=ma.validate.Range(1, 10**9))
    efficiency_j_per_th = ma.fields.Decimal(required=True, as_string=True, metadata={"example": 34})
    max_load_kw = ma.fields.Integer(load_default=None, allow_none=True, strict=True, validate=ma.validate.Range(1, 10**9))
    meter_working = ma.fields.Boolean(load_default=True)
    licensed = ma.fields.Boolean(load_default=True)
    sell_pct = ma.fields.Integer(load_default=0, strict=True, validate=ma.validate.Range(0, 100))


class MeterIn(Strict):
    working = ma.fields.Boolean(required=True)


class CloseIn(Strict):
    reason = ma.fields.String(load_default="", validate=ma.validate.Length(max=200))


class Empty(Strict):
    pass


class FarmRegisteredSchema(Strict):
    farm = ma.fields.String(required=True)
    location = ma.fields.String(required=True)
    power_kw = ma.fields.String(required=True, metadata={"description": "the machines' draw, kW"})
    licence_id = ma.fields.String(required=True, allow_none=True)
    deposit_address = ma.fields.String(required=True, metadata={"description": "where its rewards are paid"})
    status = ma.fields.String(required=True)


class MeterSchema(Strict):
    farm = ma.fields.String(required=True)
    meter_working = ma.fields.Boolean(required=True)
    status = ma.fields.String(required=True)


class LevyPaidSchema(Strict):
    farm = ma.fields.String(required=True)
    levies = ma.fields.Integer(required=True)
    paid_minor = ma.fields.Integer(required=True, metadata={"description": "tiyn"})
    status = ma.fields.String(required=True)


class DetectedSchema(Strict):
    examined = ma.fields.Integer(required=True, metadata={"description": "substation readings examined"})
    flagged_days = ma.fields.Integer(required=True)
    cases = ma.fields.List(ma.fields.Dict(), required=True)
    status = ma.fields.String(required=True)


class ClosedSchema(Strict):
    farm = ma.fields.String(required=True)
    case_id = ma.fields.Integer(required=True)
    evaded_levy_minor = ma.fields.Integer(required=True)
    seized_sat = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True)


class FarmReportSchema(Strict):
    class Meta:
        unknown = ma.INCLUDE

    farm = ma.fields.String(required=True)
    tax = ma.fields.Dict(required=True, metadata={"description": "revenue, levy, power bill, profit, CIT (tiyn)"})


@blp.route("")
@access("regulator")
@blp.response(200, MiningSummary)
def summary():
    """Farms with their power, licence, levy accrued and paid, coins mined, credited, sold and seized; the
    detection cases and the flags."""
    city = require_city()
    return city_read(lambda uow: mining_reports.summary(city.ctx, uow))


@blp.route("/farms/<name:farm>")
@access("regulator")
@blp.response(200, FarmReportSchema)
def farm(farm: str):
    """One farm: its figures, latest meter readings and levies, flags and tax report (corporate income tax
    on its profit)."""
    city = require_city()
    return json_response(city_read(lambda uow: mining_reports.farm_report(city.ctx, uow, farm)), 200)


def _write(fn, **kwargs):
    city = require_city()
    return json_response(*idempotent_write(lambda uow: (fn(city.ctx, uow, **kwargs).to_dict(), 200), retries=0))


@blp.route("/farms", methods=["POST"])
@access()
@blp.arguments(FarmIn)
@blp.response(200, FarmRegisteredSchema)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def register(body: dict):
    """Register an onboarded customer as a farm (licensed: a digital_mining licence from the configured
    regulator; ``licensed: false``: a farm the regulator does not know of)."""
    body = dict(body, efficiency_j_per_th=str(body["efficiency_j_per_th"]))
    return _write(mining_service.register_farm, **body)


@blp.route("/farms/<name:farm>/meter", methods=["POST"])
@access()
@blp.arguments(MeterIn)
@blp.response(200, MeterSchema)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def meter(body: dict, farm: str):
    """Break (``working: false``: days assessed at maximum load) or repair the farm's meter."""
    return _write(mining_service.set_meter, farm=farm, working=body["working"])


@blp.route("/farms/<name:farm>/pay-levy", methods=["POST"])
@access()
@blp.arguments(Empty)
@blp.response(200, LevyPaidSchema)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def pay_levy(body: dict, farm: str):
    """Pay every unpaid levy of the farm from its tenge account (all or nothing)."""
    return _write(mining_service.pay_levy, farm=farm)


@blp.route("/detect", methods=["POST"])
@access("regulator")
@blp.arguments(Empty)
@blp.response(200, DetectedSchema)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def detect(body: dict):
    """Run the detection rule over the grid operator's new substation readings; cases open where load is
    unexplained."""
    return _write(mining_cases.detect)


@blp.route("/farms/<name:farm>/close", methods=["POST"])
@access("regulator")
@blp.arguments(CloseIn)
@blp.response(200, ClosedSchema)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def close(body: dict, farm: str):
    """Close the farm on the case open at its location and seize its output to the state-held account."""
    return _write(mining_cases.close_farm, farm=farm, reason=body["reason"])
