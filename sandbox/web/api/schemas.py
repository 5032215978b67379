"""Shared marshmallow schemas. Amounts are integers in the asset's minor unit (never floats)."""
from __future__ import annotations

import marshmallow as ma

from ..conventions import MAX_ID, page_schema

OWNER_PATTERN = r"^[\w.:@/+-]{1,120}$"
ASSET_PATTERN = r"^[A-Z][A-Z0-9]{1,9}$"
PURPOSE_PATTERN = r"^[a-z][a-z0-9_]{1,31}$"
Id = ma.fields.Integer


class Strict(ma.Schema):
    class Meta:
        unknown = ma.RAISE  # an unknown field is a 422 naming it, never silently ignored

    # A request field's old name -> its name now. The old name is read as the new one (a client written
    # before the rename keeps working); sending both is a 422 naming both; responses use the new name only.
    RENAMED: dict[str, str] = {}

    @ma.pre_load
    def _renamed_fields(self, data, **_):
        if not self.RENAMED or not isinstance(data, dict):
            return data
        both = {old: [f"{old!r} is the old name of {new!r}: send one of them"]
                for old, new in self.RENAMED.items() if old in data and new in data}
        if both:
            raise ma.ValidationError(both)
        return {self.RENAMED.get(k, k): v for k, v in data.items()}


class AccountSchema(Strict):
    id = Id(required=True)
    code = ma.fields.String(required=True)
    owner = ma.fields.String(required=True)
    asset = ma.fields.String(required=True)
    purpose = ma.fields.String(required=True)
    allow_negative = ma.fields.Boolean(required=True)
    balance_minor = ma.fields.Integer(required=True)
    held_minor = ma.fields.Integer(required=True)
    available_minor = ma.fields.Integer(required=True)


AccountPage = page_schema(AccountSchema, "AccountPage")


class AccountCreate(Strict):
    owner = ma.fields.String(required=True, validate=ma.validate.Regexp(OWNER_PATTERN))
    asset = ma.fields.String(required=True, validate=ma.validate.Regexp(ASSET_PATTERN))
    purpose = ma.fields.String(required=True, validate=ma.validate.Regexp(PURPOSE_PATTERN))


class AccountFilter(Strict):
    owner = ma.fields.String(validate=ma.validate.Regexp(OWNER_PATTERN))
    asset = ma.fields.String(validate=ma.validate.Regexp(ASSET_PATTERN))
    purpose = ma.fields.String(validate=ma.validate.Regexp(PURPOSE_PATTERN))
    limit = ma.fields.Integer(load_default=50, validate=ma.validate.Range(1, 200))
    after_id = ma.fields.Integer(load_default=None, validate=ma.validate.Range(0, MAX_ID))


class BalanceSchema(Strict):
    account_id = Id(required=True)
    asset = ma.fields.String(required=True)
    ledger_minor = ma.fields.Integer(required=True)
    held_minor = ma.fields.Integer(required=True)
    available_minor = ma.fields.Integer(required=True)
    as_of = ma.fields.AwareDateTime(allow_none=True, required=True)


class AsOfArgs(Strict):
    as_of = ma.fields.AwareDateTime(load_default=None, default_timezone=None,
                                    metadata={"description": "sandbox time, ISO 8601 with offset"})


class EntrySchema(Strict):
    entry_id = Id(required=True)
    transfer_id = Id(required=True)
    amount_minor = ma.fields.Integer(required=True, metadata={"description": "+ credit, - debit"})
    at = ma.fields.AwareDateTime(required=True)
    kind = ma.fields.String(required=True)
    memo = ma.fields.String(required=True)


EntryPage = page_schema(EntrySchema, "EntryPage")


class HistoryArgs(Strict):
    limit = ma.fields.Integer(load_default=50, validate=ma.validate.Range(1, 200))
    after_id = ma.fields.Integer(load_default=None, validate=ma.validate.Range(0, MAX_ID))
    since = ma.fields.AwareDateTime(load_default=None)
    until = ma.fields.AwareDateTime(load_default=None)


def account_dict(account) -> dict:
    return {"id": account.id, "code": account.code, "owner": account.owner, "asset": account.asset,
            "purpose": account.purpose, "allow_negative": account.allow_negative,
            "balance_minor": account.balance_minor, "held_minor": account.held_minor,
            "available_minor": account.available_minor}


# ---------------------------------------------------------------------------------------------
# The city's endpoints
# ---------------------------------------------------------------------------------------------
MAX_AMOUNT_MINOR = 10**15  # ten trillion major units of anything: above is a typo, never obeyed
ACTOR_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}$"
MERCHANT_PATTERN = ACTOR_PATTERN


def amount_field(*, required: bool = True, minimum: int = 1, description: str = "", **kw) -> ma.fields.Integer:
    """An integer amount in the asset's minor unit (tiyn, satoshi, gwei, micro-USDT), never a float."""
    return ma.fields.Integer(required=required, strict=True, validate=ma.validate.Range(minimum, MAX_AMOUNT_MINOR),
                             metadata={"description": description or "whole minor units, not a float"}, **kw)


class PageQuery(Strict):
    limit = ma.fields.Integer(load_default=50, validate=ma.validate.Range(1, 200),
                              metadata={"description": "page size, at most 200"})
    after_id = ma.fields.Integer(load_default=None, validate=ma.validate.Range(0, MAX_ID),
                                 metadata={"description": "cursor: the `next_after_id` of the previous page"})


class ReasonSchema(Strict):
    reason = ma.fields.String(load_default="", validate=[ma.validate.Length(max=300),
                                                         ma.validate.Predicate("isprintable",
                                                                               error="reason must be printable text")])


def seq_page(items: list[dict], limit: int, after_id: int | None) -> dict:
    """Pagination of a short, configuration-bounded list: ``seq`` is each item's 1-based position."""
    numbered = [dict(item, seq=n) for n, item in enumerate(items, 1)]
    rest = [i for i in numbered if i["seq"] > (after_id or 0)]
    more = len(rest) > limit
    rest = rest[:limit]
    return {"items": rest, "next_after_id": rest[-1]["seq"] if more and rest else None}
