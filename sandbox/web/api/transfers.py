"""Transfers between two accounts (operator): the write the HTTP benchmark drives."""
from __future__ import annotations

import marshmallow as ma
from flask_smorest import Blueprint
from ledger import move
from ledger import queries as ledger_queries
from ledger.transfers import MAX_MEMO_LENGTH

from ..auth import access
from ..conventions import (
    IDEMPOTENCY_PARAM,
    MAX_ID,
    PageArgs,
    idempotent_write,
    page,
    page_schema,
)
from ..responses import json_response
from ..services import services
from . import PREFIX
from .schemas import Strict

blp = Blueprint("transfers", __name__, url_prefix=f"{PREFIX}/transfers",
                description="Money movements between ledger accounts")


class PostingSchema(Strict):
    account_id = ma.fields.Integer(required=True)
    amount_minor = ma.fields.Integer(required=True, metadata={"description": "+ credit, - debit"})


class TransferSchema(Strict):
    id = ma.fields.Integer(required=True)
    kind = ma.fields.String(required=True)
    memo = ma.fields.String(required=True)
    created_at = ma.fields.String(required=True, metadata={"description": "sandbox time, ISO 8601"})
    postings = ma.fields.List(ma.fields.Nested(PostingSchema), required=True)


TransferPage = page_schema(TransferSchema, "TransferPage")


def _printable(value: str) -> bool:
    return value.isprintable()


class TransferCreate(Strict):
    from_account_id = ma.fields.Integer(required=True, strict=True, validate=ma.validate.Range(1, MAX_ID))
    to_account_id = ma.fields.Integer(required=True, strict=True, validate=ma.validate.Range(1, MAX_ID))
    amount_minor = ma.fields.Integer(required=True, strict=True, validate=ma.validate.Range(1, MAX_ID),
                                     metadata={"description": "whole minor units (tiyn, satoshi…), not a float"})
    memo = ma.fields.String(load_default="", validate=[ma.validate.Length(max=MAX_MEMO_LENGTH),
                                                       ma.validate.Predicate("isprintable",
                                                                             error="memo must be printable text")])


def transfer_dict(result) -> dict:
    return {"id": result.id, "kind": result.kind, "memo": result.memo, "created_at": result.created_at.isoformat(),
            "postings": [{"account_id": p.account_id, "amount_minor": p.amount_minor} for p in result.postings]}


@blp.route("", methods=["POST"])
@access()
@blp.arguments(TransferCreate)
@blp.response(201, TransferSchema)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def create_transfer(body: dict):
    """Move ``amount_minor`` from one account to another (operator). Refusals change nothing."""
    def compute(uow):
        result = uow.transfer(move(body["from_account_id"], body["to_account_id"], body["amount_minor"]),
                              memo=body["memo"])
        return transfer_dict(result), 201
    return json_response(*idempotent_write(compute))


@blp.route("")
@access()
@blp.arguments(PageArgs, location="query", as_kwargs=True)
@blp.response(200, TransferPage)
def list_transfers(limit: int, after_id: int | None = None):
    """Every transfer, oldest first (operator and regulator)."""
    with services().ledger.unit_of_work(read_only=True) as uow:
        return page(ledger_queries.transfers(uow, limit=limit + 1, after_id=after_id), limit)
