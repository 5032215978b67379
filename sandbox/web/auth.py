"""Who may do what — decided in ONE place, before any view runs.

Every API view declares its policy with ``@access(...)``; ``check_request`` (a
``before_request`` hook) enforces it:

1. ``public`` views (health, readiness, the spec, the docs page) need no key.
2. Otherwise a key is required: ``Authorization: Bearer <key>`` or ``X-API-Key: <key>`` -> 401.
3. Role: operator may do everything; regulator may read everything (GET) and do the writes whose
   policy names it; merchant and customer only what the policy names -> 403.
4. Scope (merchant and customer): every path argument with a registered owner resolver
   (``account_id``, ``actor``, ``card_id``, ``order_id``; ``authorization_id`` and ``merchant_id`` for
   merchants) must belong to the key's
   subject, else 404 — so a key of one customer cannot even learn that another's account exists.
   List views that allow these roles declare ``scope="owner"``; the hook pins ``g.owner_scope`` to
   the subject (and refuses an ``owner=`` filter naming someone else), and the view filters by it.
   A policy that admits a scoped role on a view with neither is refused at start-up (fail closed).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from flask import Flask, g, request

from card import authorizations, issuing
from exchange import queries as exchange_queries
from ledger import accounts as ledger_accounts
from sandbox.apikeys import Principal, resolve_key_ahead

from .problems import Problem
from .services import services

ACCESS_ATTR = "_cryptocity_access"
SCOPED_ROLES = frozenset({"merchant", "customer"})
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# path argument -> fn(uow, value) -> owner string of the resource, or None if it does not exist
OwnerResolver = Callable[[object, object], "str | None"]
OWNER_RESOLVERS: dict[str, OwnerResolver] = {}


@dataclass(frozen=True)
class Access:
    roles: frozenset[str] = frozenset()
    public: bool = False
    scope: str | None = None  # "owner": a list view filtered to the caller's own data
    shared: bool = False  # any valid key may call it: it holds nobody's data (e.g. the clock)
    regulator_write: bool = field(default=False)
    # (name, fn(uow) -> answer()) reads the view needs before its own transaction, sent with the key's
    # check (one round trip, no unit of work of their own); answered in ``g.ahead[name]``
    ahead: tuple[tuple[str, Callable], ...] = ()


def access(*roles: str, public: bool = False, scope: str | None = None, shared: bool = False,
           ahead: dict[str, Callable] | None = None) -> Callable:
    """Declare who may call a view. Operator is always allowed; regulator may always read. ``ahead``:
    ``{name: fn(uow)}`` reads started with the key's check, ``fn`` returning the function that answers
    (``uow.sql.read_ahead``); a request the check lets through finds the answers in ``g.ahead``."""
    policy = Access(frozenset(roles), public, scope, shared, regulator_write="regulator" in roles,
                    ahead=tuple((ahead or {}).items()))

    def decorate(fn):
        setattr(fn, ACCESS_ATTR, policy)
        return fn
    return decorate


def register_owner_resolver(arg_name: str, resolver: OwnerResolver) -> None:
    """Teach the scope check who owns the resource named by path argument ``arg_name``."""
    OWNER_RESOLVERS[arg_name] = resolver


# The scope check runs before every merchant and customer request; each package answers for its own tables.
register_owner_resolver("account_id", ledger_accounts.owner_of)
# The city's resources. A customer key's subject is the actor (ledger owner, card cardholder_id);
# a merchant key's subject is its merchant id (the POS acts only for that merchant).
register_owner_resolver("actor", issuing.owner_of_bank_customer)
register_owner_resolver("card_id", issuing.owner_of_card)
register_owner_resolver("order_id", exchange_queries.owner_of_order)
# POS operations on an authorization belong to the merchant it was made at.
register_owner_resolver("authorization_id", authorizations.merchant_of)
register_owner_resolver("merchant_id", issuing.merchant_exists)


def policy_of(view) -> Access | None:
    while view is not None:
        policy = getattr(view, ACCESS_ATTR, None)
        if policy is not None:
            return policy
        view = getattr(view, "__wrapped__", None)
    return None


def owns(principal: Principal, owner: str | None) -> bool:
    """A merchant or customer key sees resources whose owner is exactly its subject."""
    return owner is not None and principal.subject is not None and owner == principal.subject


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return request.headers.get("X-API-Key") or None


def current_principal() -> Principal | None:
    return g.get("principal")


def check_request() -> None:
    """The before_request hook for API endpoints (the dashboard has its own, session-based)."""
    if request.endpoint is None or request.blueprint == "dashboard" or request.endpoint == "static":
        return
    view = request.url_rule and _view_of(request.endpoint)
    policy = policy_of(view) or Access()  # undeclared: operator only (fail closed)
    if policy.public:
        return
    token = bearer_token()
    if token is None:
        raise Problem(401, "unauthorized", "this endpoint needs an API key: send 'Authorization: Bearer <key>' "
                      "(create one with `cryptocity keys create ROLE`)", headers={"WWW-Authenticate": "Bearer"})
    # Autocommit: the key and the owners are independent single-row lookups; no transaction spares the
    # BEGIN and ROLLBACK round trips on every request (the view opens its own unit of work).
    with services().ledger.unit_of_work(autocommit=True) as uow:
        key = resolve_key_ahead(uow, token)
        # The view's own reads ahead and the owners the scope check may need, read before the key's answer
        # is looked at: on PostgreSQL they all go out together, one round trip.
        later = [(name, read(uow)) for name, read in policy.ahead]
        owners = _owners(uow) if not policy.shared else {}
        principal = key()
        if principal is None:
            raise Problem(401, "invalid_api_key", "the API key is unknown or revoked",
                          headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        g.principal = principal
        authorize(principal, policy, uow, owners)
        g.ahead = {name: answer() for name, answer in later}


def _owners(uow) -> dict[str, Callable[[], str | None]]:
    """For each path argument with an owner resolver: its owner, read now (an error kept for the check)."""
    found: dict[str, Callable[[], str | None]] = {}
    for name, value in (request.view_args or {}).items():
        resolver = OWNER_RESOLVERS.get(name)
        if resolver is None:
            continue
        try:
            owner = resolver(uow, value)
        except Exception as error:  # noqa: BLE001 - raised where the check would have read it
            found[name] = _raiser(error)
        else:
            found[name] = lambda owner=owner: owner
    return found


def _raiser(error: Exception) -> Callable[[], str | None]:
    def again() -> str | None:
        raise error
    return again


def authorize(principal: Principal, policy: Access, uow, owners: dict | None = None) -> None:
    """Apply ``policy`` to ``principal`` for the current request; owners are read in ``uow`` (or taken from
    ``owners``, read already: ``check_request``)."""
    role = principal.role
    if role == "operator":
        return
    if role == "regulator":
        if request.method in READ_METHODS or policy.regulator_write:
            return
        raise Problem(403, "forbidden", "a regulator key may read everything but cannot make this change")
    if policy.shared:
        return
    if role not in policy.roles:
        raise Problem(403, "forbidden", f"a {role} key may not call {request.method} {request.path}")
    scoped = False
    for name, value in (request.view_args or {}).items():
        resolver = OWNER_RESOLVERS.get(name)
        if resolver is None:
            continue
        scoped = True
        owner = owners[name]() if owners and name in owners else resolver(uow, value)
        if not owns(principal, owner):
            raise Problem(404, "not_found", f"no {name.removesuffix('_id')} {value} is visible to this key")
    if policy.scope == "owner":
        asked = request.args.get("owner")
        if asked is not None and asked != principal.subject:
            raise Problem(403, "forbidden", f"a {role} key sees only its own data (owner {principal.subject})")
        g.owner_scope = principal.subject
        scoped = True
    if not scoped:
        raise Problem(403, "forbidden", f"a {role} key may not call {request.method} {request.path}")


def owner_scope() -> str | None:
    """For list views: the owner a merchant/customer key is pinned to (None for operator/regulator)."""
    return g.get("owner_scope")


def _view_of(endpoint: str):
    from flask import current_app
    return current_app.view_functions.get(endpoint)


def check_policies(app: Flask) -> None:
    """Refuse to start if a view admits a scoped role but nothing scopes it (the fail-closed rule)."""
    for rule in app.url_map.iter_rules():
        policy = policy_of(app.view_functions.get(rule.endpoint))
        if policy is None or policy.public or policy.shared or not (policy.roles & SCOPED_ROLES):
            continue
        if policy.scope != "owner" and not (set(rule.arguments) & set(OWNER_RESOLVERS)):
            raise RuntimeError(f"{rule.endpoint} admits {sorted(policy.roles & SCOPED_ROLES)} but has no scope: "
                               "add a path argument with an owner resolver or scope='owner'")
