"""Reports: the regulator's summary (JSON, CSV, zipped CSV tables and PDF: the same dict ``cryptocity report``
renders), a customer's tax statement for a year (the customer's own), and AML flags (operator and regulator
only: a customer is never told it was flagged — no tipping-off)."""
from __future__ import annotations

import marshmallow as ma
from flask import Response
from flask_smorest import Blueprint

from sandbox import reports as report_formats
from sandbox.services.reports import MAX_DAYS

from ..auth import access
from ..conventions import install_converters, require_city
from . import PREFIX
from .schemas import Strict

blp = Blueprint("reports", __name__, url_prefix=PREFIX, description="Regulator report, tax statements, AML flags")
install_converters(blp)


class CardDay(Strict):
    day = ma.fields.String(required=True, metadata={"description": "YYYY-MM-DD in the city's time zone"})
    authorizations = ma.fields.Integer(required=True)
    approved = ma.fields.Integer(required=True)
    declined = ma.fields.Integer(required=True)
    approved_minor = ma.fields.Integer(required=True, metadata={"description": "approved amount, tiyn"})


class RegulatorSummary(Strict):
    at = ma.fields.String(required=True)
    city = ma.fields.String(required=True)
    timezone = ma.fields.String(required=True, metadata={"description": "the zone whose calendar days count"})
    card = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), required=True,
                          metadata={"description": "authorizations, approvals, declines and volumes in tiyn"})
    card_by_day = ma.fields.List(ma.fields.Nested(CardDay), required=True, metadata={
        "description": f"card authorizations per calendar day in ``timezone``, oldest first (the latest {MAX_DAYS})"})
    declines = ma.fields.List(ma.fields.Dict(), required=True,
                              metadata={"description": "declines counted by response_code and reason template "
                                                       "(the reason with its amounts as {placeholders}): "
                                                       "count, amount_minor (their total) and one example"})
    aml_flags = ma.fields.Dict(required=True)
    exchange = ma.fields.List(ma.fields.Dict(), required=True)
    kzte = ma.fields.Dict(required=True, metadata={"description": "reserves vs supply (attestation)"})
    licences = ma.fields.List(ma.fields.Dict(), required=True)
    mining = ma.fields.Dict(metadata={"description": "farms, levy paid and unpaid, BTC mined, sold and seized, "
                                                     "detection cases (docs/mining.md)"})
    invariants = ma.fields.Dict(required=True)
    custody_onchain = ma.fields.Dict(metadata={
        "description": "with a shared EVM node: per asset (ETH, USDT) what the custodian's addresses hold on "
                       "chain against what the ledger says (onchain_minor, ledger_minor, difference_minor, problem)"})




class TaxStatementSchema(Strict):
    customer_id = ma.fields.String(required=True)
    year = ma.fields.Integer(required=True)
    resident = ma.fields.Boolean(required=True)
    residency_basis = ma.fields.String(required=True)
    pit_rate_pct = ma.fields.String(required=True)
    vat = ma.fields.String(required=True)
    total_proceeds_kzt_minor = ma.fields.Integer(required=True)
    total_cost_kzt_minor = ma.fields.Integer(required=True)
    net_gain_kzt_minor = ma.fields.Integer(required=True)
    pit_kzt_minor = ma.fields.Integer(required=True, metadata={"description": "personal income tax due, tiyn"})
    disposals = ma.fields.List(ma.fields.Dict(), required=True,
                               metadata={"description": "each sale (exchange or card-funded) with FIFO basis and gain"})


class FlagSchema(Strict):
    rule = ma.fields.String(required=True)
    reason = ma.fields.String(required=True)


class FlagsSchema(Strict):
    actor = ma.fields.String(required=True)
    flags = ma.fields.List(ma.fields.Nested(FlagSchema), required=True)


@blp.route("/reports/regulator")
@access("regulator")
@blp.response(200, RegulatorSummary)
def regulator_report():
    """What the regulators read: card volumes, declines by code and reason, AML flags, exchange volume,
    KZTE reserves vs supply, licence states and whether the invariants hold (verified on every call)."""
    return require_city().regulator_summary()


@blp.route("/reports/regulator.csv")
@access("regulator")
@blp.doc(responses={"200": {"description": "the same summary as key,value rows",
                            "content": {"text/csv": {"schema": {"type": "string"}}}}})
def regulator_report_csv():
    """The regulator summary as CSV (dotted keys), for spreadsheets."""
    summary = require_city().regulator_summary()
    return Response(report_formats.to_csv(summary), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="regulator-report.csv"'})


@blp.route("/reports/regulator.zip")
@access("regulator")
@blp.doc(responses={"200": {"description": "the summary as tables: one CSV per table (card totals, card by day, "
                                           "declines, AML flags, exchange volume, KZTE reserves, licences, "
                                           "invariant checks), zipped",
                            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}}}})
def regulator_report_zip():
    """The regulator summary as one CSV per table in a zip (the same bytes for the same summary)."""
    summary = require_city().regulator_summary()
    return Response(report_formats.render(summary, "csv-zip"), mimetype="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{report_formats.filename("csv-zip")}"'})


@blp.route("/reports/regulator.pdf")
@access("regulator")
@blp.doc(responses={"200": {"description": "the report for people (amounts formatted, tables, charts) as a PDF",
                            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}})
def regulator_report_pdf():
    """The regulator report printed to PDF, with the dashboard's charts."""
    from sandbox.charts.gather import report_charts

    city = require_city()
    summary = city.regulator_summary()
    body = report_formats.render(summary, "pdf", city.ledger.assets, report_charts(city, summary))
    return Response(body, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{report_formats.filename("pdf")}"'})


@blp.route("/customers/<name:actor>/tax-statements/<int(min=2000, max=2100):year>")
@access("customer")
@blp.response(200, TaxStatementSchema)
def tax_statement(actor: str, year: int):
    """The customer's disposals of ``year`` (exchange sales and card-funded sales) with FIFO cost basis,
    gain and personal income tax (10 % resident, 20 % non-resident)."""
    return require_city().tax_statement(actor, year).to_dict()


@blp.route("/customers/<name:actor>/aml-flags")
@access()
@blp.response(200, FlagsSchema)
def aml_flags(actor: str):
    """Every AML flag raised on the customer's purchases (operator and regulator only)."""
    flags = require_city().flags(actor)
    return {"actor": actor, "flags": [{"rule": r, "reason": why} for r, why in flags]}
