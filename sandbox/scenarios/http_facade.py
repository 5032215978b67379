"""The scenario runner's facade over the HTTP API of a running city (``cryptocity run --server URL``).

The same steps as an in-process run, sent as API requests with an operator key, so a workshop's projected
dashboard moves as the scenario runs. The city is shared and long-lived, so one run is kept apart from
every other: each actor is onboarded as ``<run>-<actor>`` and each request's Idempotency-Key starts with
``<run>-`` (a rerun gets a new ``<run>``, so it never replays or clashes with an earlier one). What comes
back is read with the run's prefix taken off again, so the file's expectations (``customer: aigerim``,
``reference: coffee``) read as they do in process; the events a step "wrote" are the events whose request
carried this run's keys.

Two differences are inherent to a shared city and documented in docs/scenarios.md: its configuration and
seed are the server's (a scenario that changes them with ``config_overrides`` or ``merchants_add`` is
refused, and a different ``config`` is refused), and its clock is wherever the city's is (``at:`` in the
past is ``clock_moves_forward``).
"""
from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta
from typing import Any

from ledger.errors import DomainError

MAX_NAME = 64
_TIMEOUT_S = 60


class LiveRunError(DomainError):
    """The server refused a request: ``code`` is the API's problem code (``not_licensed``, …)."""
    code = "live_request_failed"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        if code:
            self.code = code
        self.status = status


class ServerUnreachable(LiveRunError):
    code = "server_unreachable"


class ActorNameTooLong(LiveRunError):
    code = "invalid_actor"


class UnknownLiveReference(LiveRunError):
    code = "unknown_reference"


class LiveInvariantBroken(LiveRunError):
    code = "invariant_violation"


class LivePegBroken(LiveRunError):
    code = "peg_broken"


def city_info(base_url: str, key: str) -> dict:
    """``GET /api/v1/city`` of the server: its name, configuration fingerprint, seed and time."""
    facade = HttpFacade.__new__(HttpFacade)
    facade.base_url, facade.key, facade.prefix, facade._requests = base_url.rstrip("/"), key, "r-check-", 0
    return facade._call("GET", "/api/v1/city")


class HttpFacade:
    """What ``run_scenario`` calls, answered by the API at ``base_url`` with the operator ``key``."""

    def __init__(self, base_url: str, key: str, *, run_id: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.key = key
        self.run_id = run_id or uuid.uuid4().hex[:8]
        self.prefix = f"r{self.run_id}-"
        self._cards: dict[str, int] = {}
        self._authorizations: dict[str, int] = {}
        self._requests = 0
        self._actors: set[str] = set()
        self._tail: str | None = None      # the newest event id seen so far (walked forward, never from the start)
        self.start_mark = self._last_event_id_raw()

    # ------------------------------------------------------------------ plumbing
    def ns(self, actor: str) -> str:
        name = f"{self.prefix}{actor}"
        if len(name) > MAX_NAME:
            raise ActorNameTooLong(f"actor {actor!r} is too long to namespace for a live run (at most "
                                  f"{MAX_NAME - len(self.prefix)} characters)")
        return name

    def _key(self, what: str) -> str:
        self._requests += 1
        return f"{self.prefix}{self._requests}-{what}"[:200]

    def _call(self, method: str, path: str, body: Any = None, *, key: str | None = None,
              query: dict | None = None, keep_prefix: bool = False) -> Any:
        url = self.base_url + path
        if query:
            from urllib.parse import urlencode
            url += "?" + urlencode({k: v for k, v in query.items() if v is not None})
        headers = {"Authorization": f"Bearer {self.key}", "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if method == "POST" or method == "PUT":
            headers["Idempotency-Key"] = key or self._key(path.rsplit("/", 1)[-1])
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:  # noqa: S310 - the user's server
                raw = response.read()
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                problem = json.loads(raw)
            except ValueError:
                problem = {}
            detail = problem.get("detail") or problem.get("title") or f"HTTP {error.code}"
            raise LiveRunError(self.strip(str(detail)), code=problem.get("code"), status=error.code) from None
        except (urllib.error.URLError, OSError) as error:
            raise ServerUnreachable(f"cannot reach {self.base_url}: {getattr(error, 'reason', error)}") from None
        decoded = json.loads(raw) if raw else None
        return decoded if keep_prefix else self.strip(decoded)

    def strip(self, value: Any) -> Any:
        """``value`` with this run's prefix taken off every name and reference in it."""
        if isinstance(value, dict):
            return {k: self.strip(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.strip(v) for v in value]
        if isinstance(value, str) and self.prefix in value:
            # a POS reference is "<merchant>:<key>": the file wrote only the key
            value = re.sub(rf"^[A-Za-z0-9_.-]+:{re.escape(self.prefix)}", "", value)
            return value.replace(self.prefix, "")
        return value

    # ------------------------------------------------------------------ customers and money
    def onboard(self, *, actor: str, kyc_tier: str, resident: bool | None = None, aifc_investor: bool = False,
                deposits: dict[str, int] | None = None, days_in_kazakhstan: int | None = None) -> dict:
        body: dict[str, Any] = {"actor": self.ns(actor), "kyc_tier": kyc_tier, "aifc_investor": aifc_investor,
                                "deposits": deposits or {}}
        if resident is not None:
            body["resident"] = resident
        if days_in_kazakhstan is not None:
            body["days_in_kazakhstan"] = days_in_kazakhstan
        out = self._call("POST", "/api/v1/customers", body)
        self._actors.add(actor)
        self._cards[actor] = out["card_id"]
        return out

    def set_kyc_tier(self, *, actor: str, kyc_tier: str, reason: str = "") -> dict:
        return self._call("POST", f"/api/v1/customers/{self.ns(actor)}/kyc", {"kyc_tier": kyc_tier, "reason": reason})

    def faucet(self, *, actor: str, asset: str, amount_minor: int) -> dict:
        return self._call("POST", f"/api/v1/customers/{self.ns(actor)}/faucet",
                          {"asset": asset, "amount_minor": amount_minor})

    deposit = faucet   # over HTTP, money from outside arrives through the faucet (the same path, audited so)

    def deposit_address(self, *, actor: str, chain: str = "bitcoin") -> str:
        return self._call("POST", f"/api/v1/customers/{self.ns(actor)}/deposit-addresses", {"chain": chain})["address"]

    def whitelist_address(self, *, actor: str, chain: str = "bitcoin", address: str) -> dict:
        return self._call("POST", f"/api/v1/customers/{self.ns(actor)}/whitelist",
                          {"chain": chain, "address": address})

    def withdraw(self, *, actor: str, asset: str = "BTC", address: str, amount_minor: int, key: str,
                 travel_rule: dict | None = None) -> dict:
        body = {"asset": asset, "address": address, "amount_minor": amount_minor}
        if travel_rule is not None:
            body["travel_rule"] = travel_rule
        return self._call("POST", f"/api/v1/customers/{self.ns(actor)}/withdrawals", body,
                          key=f"{self.prefix}withdraw-{key}")

    def buy(self, *, actor: str, instrument: str, quote_qty_minor: int) -> dict:
        return self._order(actor, {"instrument": instrument, "side": "buy", "type": "market",
                                   "quote_qty_minor": quote_qty_minor})

    def sell(self, *, actor: str, instrument: str, qty_minor: int) -> dict:
        return self._order(actor, {"instrument": instrument, "side": "sell", "type": "market", "qty_minor": qty_minor})

    def _order(self, actor: str, body: dict) -> dict:
        out = self._call("POST", f"/api/v1/customers/{self.ns(actor)}/orders", body)
        return {**out, "status": "ok", "order_status": out.get("status")}

    def mint(self, *, actor: str, amount_minor: int) -> dict:
        return self._call("POST", f"/api/v1/customers/{self.ns(actor)}/kzte/mint", {"amount_minor": amount_minor})

    def redeem(self, *, actor: str, amount_minor: int) -> dict:
        return self._call("POST", f"/api/v1/customers/{self.ns(actor)}/kzte/redeem", {"amount_minor": amount_minor})

    # ------------------------------------------------------------------ the card network
    def card_details(self, actor: str) -> dict:
        card_id = self._cards.get(actor) or self._call("GET", f"/api/v1/customers/{self.ns(actor)}")["card_id"]
        revealed = self._call("POST", f"/api/v1/cards/{card_id}/reveal", {})
        return {"expiry": revealed["expiry"], "cvv": revealed["cvv"]}

    def set_card_controls(self, *, actor: str, changes: dict) -> dict:
        card_id = self._card_id(actor)
        current = self._call("GET", f"/api/v1/cards/{card_id}")["controls"]
        return self._call("PUT", f"/api/v1/cards/{card_id}/controls", {**current, **changes})

    def _card_id(self, actor: str) -> int:
        return self._cards.get(actor) or self._call("GET", f"/api/v1/customers/{self.ns(actor)}")["card_id"]

    def pay(self, *, actor: str, merchant: str, amount_minor: int, ref: str, channel: str | None = None,
            expiry: str | None = None, cvv: str | None = None, kind: str | None = None) -> dict:
        card_id = self._card_id(actor)
        mark = self._last_event_id_raw()
        body: dict[str, Any] = {"card_id": card_id, "amount_minor": amount_minor}
        if channel is not None:
            body |= {"channel": channel, "expiry": expiry, "cvv": cvv}
        if kind is not None:
            body["kind"] = kind
        out = self._call("POST", f"/api/v1/merchants/{merchant}/authorizations", body, key=f"{self.prefix}{ref}")
        if out.get("id") is not None:
            self._authorizations[ref] = out["id"]
        # what the card sold and the AML flags it raised: in the authorization's event (operator-readable)
        created = next((e["data"] for e in self._events_after(mark, types="authorization.created")
                        if e["data"].get("authorization_id") == out.get("id")), {})
        return {**out, "status": "approved" if out.get("approved") else "declined",
                "sold": created.get("sold", []), "flags": [f["rule"] for f in created.get("flags", [])],
                "conversion_fee_minor": created.get("conversion_fee_minor", 0),
                "shortfall_minor": created.get("shortfall_minor", 0), "authorization_id": out.get("id")}

    def _auth_id(self, ref: str) -> int:
        auth_id = self._authorizations.get(ref)
        if auth_id is None:
            raise UnknownLiveReference(f"no purchase with reference {ref!r} in this run")
        return auth_id

    def _clear(self, verb: str, ref: str, amount_minor: int | None, key: str | None, **more: Any) -> dict:
        body = ({} if amount_minor is None else {"amount_minor": amount_minor}) | more
        return self._call("POST", f"/api/v1/authorizations/{self._auth_id(ref)}/{verb}", body,
                          key=f"{self.prefix}{verb}-{key}" if key else None)

    def capture(self, *, ref: str, amount_minor: int | None = None, key: str | None = None,
                final: bool = True) -> dict:
        return self._clear("capture", ref, amount_minor, key, **({} if final else {"final": False}))

    def expire(self, *, ref: str) -> dict:
        return self._clear("expire", ref, None, None)

    def increment(self, *, ref: str, amount_minor: int, key: str | None = None) -> dict:
        out = self._call("POST", f"/api/v1/authorizations/{self._auth_id(ref)}/increment",
                         {"amount_minor": amount_minor}, key=f"{self.prefix}increment-{key}" if key else None)
        return {**out, "status": "approved" if out.get("approved") else "declined"}

    def _merchant_message(self, path: str, actor: str, merchant: str, amount_minor: int, ref: str,
                          **more: Any) -> dict:
        body = {"card_id": self._card_id(actor), "amount_minor": amount_minor} | {
            k: v for k, v in more.items() if v is not None}
        out = self._call("POST", f"/api/v1/merchants/{merchant}/{path}", body, key=f"{self.prefix}{ref}")
        row = out.get("authorization", out)
        if row.get("id") is not None:
            self._authorizations[ref] = row["id"]
        return out

    def advise(self, *, actor: str, merchant: str, amount_minor: int, ref: str, kind: str | None = None) -> dict:
        out = self._merchant_message("authorization-advices", actor, merchant, amount_minor, ref, kind=kind)
        return {**out, "status": "approved"}

    def force_post(self, *, actor: str, merchant: str, amount_minor: int, ref: str) -> dict:
        return self._merchant_message("force-posts", actor, merchant, amount_minor, ref)

    def unlinked_refund(self, *, actor: str, merchant: str, amount_minor: int, ref: str) -> dict:
        return self._merchant_message("refunds", actor, merchant, amount_minor, ref)

    def reverse(self, *, ref: str, amount_minor: int | None = None, key: str | None = None) -> dict:
        return self._clear("reverse", ref, amount_minor, key)

    def refund(self, *, ref: str, amount_minor: int | None = None, key: str | None = None) -> dict:
        return self._clear("refund", ref, amount_minor, key)

    # ------------------------------------------------------------------ time and licences
    def now(self) -> datetime:
        return datetime.fromisoformat(self._call("GET", "/api/v1/clock")["now"])

    def advance(self, delta: timedelta) -> dict:
        seconds = int(delta.total_seconds())
        if seconds <= 0:
            return {"now": self.now().isoformat()}
        return self._call("POST", "/api/v1/clock/advance", {"seconds": seconds})

    def suspend_licence(self, *, licence_id: str, reason: str = "") -> dict:
        return self._call("POST", f"/api/v1/licences/{licence_id}/suspend", {"reason": reason})

    def reinstate_licence(self, *, licence_id: str, reason: str = "") -> dict:
        return self._call("POST", f"/api/v1/licences/{licence_id}/reinstate", {"reason": reason})

    def renew_licence(self, *, licence_id: str, valid_until: datetime, reason: str = "",
                      applied_at: datetime | None = None, exit_plan: str | None = None) -> dict:
        body = {"valid_until": valid_until.isoformat(), "reason": reason}
        if applied_at is not None:
            body["applied_at"] = applied_at.isoformat()
        if exit_plan is not None:
            body["exit_plan"] = exit_plan
        return self._call("POST", f"/api/v1/licences/{licence_id}/renew", body)

    # ------------------------------------------------------------------ mining (locations are namespaced too)
    def register_farm(self, *, farm: str, location: str, **declared: Any) -> dict:
        body = {"farm": self.ns(farm), "location": self.ns(location)} | {
            k: v for k, v in declared.items() if v is not None}
        return self._call("POST", "/api/v1/mining/farms", body)

    def meter(self, *, farm: str, working: bool) -> dict:
        return self._call("POST", f"/api/v1/mining/farms/{self.ns(farm)}/meter", {"working": working})

    def pay_levy(self, *, farm: str) -> dict:
        return self._call("POST", f"/api/v1/mining/farms/{self.ns(farm)}/pay-levy", {})

    def detect(self) -> dict:
        return self._call("POST", "/api/v1/mining/detect", {})

    def close_farm(self, *, farm: str, reason: str = "") -> dict:
        return self._call("POST", f"/api/v1/mining/farms/{self.ns(farm)}/close", {"reason": reason})

    # ------------------------------------------------------------------ reading
    def balances(self, actor: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for line in self._call("GET", f"/api/v1/customers/{self.ns(actor)}/balances")["balances"]:
            asset = line["asset"]
            name = asset if line["place"] == "bank" or asset != "KZT" else "KZT@exchange"
            out[name] = out.get(name, 0) + int(line["available_minor"])
        return out

    def flags(self, actor: str) -> list[tuple[str, str]]:
        return [(f["rule"], f["reason"]) for f in self._call("GET", f"/api/v1/customers/{self.ns(actor)}/aml-flags")["flags"]]

    def tax_statement(self, actor: str, year: int) -> dict:
        return self._call("GET", f"/api/v1/customers/{self.ns(actor)}/tax-statements/{year}")

    def account_balance(self, code: str) -> int:
        purpose, _, rest = code.partition(":")
        owner, _, asset = rest.rpartition(":")
        if owner in self._actors:
            owner = self.ns(owner)
        page = self._call("GET", "/api/v1/accounts", query={"owner": owner, "asset": asset, "purpose": purpose,
                                                             "limit": 100})
        items = page["items"] if isinstance(page, dict) else page
        return sum(int(a["balance_minor"]) for a in items if a["purpose"] == purpose and a["asset"] == asset)

    def verify(self) -> None:
        """The ledger's invariants and the KZTE peg, as the server proves them (raises naming the problem)."""
        report = self._call("GET", "/api/v1/ledger/verify")
        if not report["ok"]:
            raise LiveInvariantBroken(f"ledger invariants broken: {report['problem']}")
        attestation = self._call("GET", "/api/v1/stablecoin/attestation")
        if not attestation["peg_holds"]:
            raise LivePegBroken(f"the KZTE peg does not hold: {attestation['problem']}")

    # ------------------------------------------------------------------ events
    def _last_event_id_raw(self) -> str | None:
        """The newest event id: walked forward from the newest one seen before (the first call walks the log)."""
        mark = self._tail
        while True:
            page = self._call("GET", "/api/v1/events", query={"after": mark, "limit": 100}, keep_prefix=True)
            if page["items"]:
                mark = page["items"][-1]["id"]
            if page["next_after"] is None:
                self._tail = mark
                return mark

    def _events_after(self, mark: str | None, *, types: str | None = None) -> list[dict]:
        """This run's events after ``mark``: those whose request carried this run's keys (prefixes taken off)."""
        out: list[dict] = []
        while len(out) < 1000:
            page = self._call("GET", "/api/v1/events", query={"after": mark, "limit": 100, "type": types}, keep_prefix=True)
            out += [self.strip(e) for e in page["items"]
                    if str((e.get("request") or {}).get("idempotency_key") or "").startswith(self.prefix)]
            if page["next_after"] is None:
                break
            mark = page["next_after"]
        return out

    def create_webhook_endpoint(self, *, url: str, events: list[str], description: str = "") -> dict:
        """Register ``url`` for ``events`` (operator key); the answer carries the signing secret."""
        return self._call("POST", "/api/v1/webhook-endpoints", {"url": url, "events": events,
                                                                 "description": description}, keep_prefix=True)

    def delete_webhook_endpoint(self, endpoint_id: int) -> None:
        self._call("DELETE", f"/api/v1/webhook-endpoints/{endpoint_id}")

    def last_event_id(self) -> str | None:
        return self._last_event_id_raw()

    def events(self, *, after: str | None = None, types: list[str] | None = None, limit: int = 100) -> list[dict]:
        """This run's events after ``after`` (from the run's start when None), prefixes taken off."""
        found = self._events_after(after if after is not None else self.start_mark,
                                   types=",".join(types) if types else None)
        return found[:limit]
