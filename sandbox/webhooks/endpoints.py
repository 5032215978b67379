"""Webhook endpoints as a service: what the API, the dashboard and the CLI call, in the caller's unit
of work (the caller commits)."""
from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import urlsplit

from ledger.errors import DomainError

from . import queries, signing, source

MAX_URL = 2000
MAX_DESCRIPTION = 300
MAX_TYPES = 50


class WebhookError(DomainError):
    code = "webhook_error"


class EndpointNotFound(WebhookError):
    code = "webhook_endpoint_not_found"


class DeliveryNotFound(WebhookError):
    code = "webhook_delivery_not_found"


class InvalidEndpoint(WebhookError):
    code = "invalid_webhook_endpoint"


def wall_now() -> datetime:
    return datetime.now(timezone.utc)


def check_url(url: str) -> str:
    """An absolute http(s) URL with a host, at most 2000 characters."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL:
        raise InvalidEndpoint(f"url must be 1-{MAX_URL} characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidEndpoint(f"url must be an absolute http:// or https:// URL with a host, got {url!r}")
    try:
        parts.port
    except ValueError:
        raise InvalidEndpoint(f"url has an invalid port: {url!r}") from None
    return url


def check_types(events: list[str]) -> list[str]:
    """A non-empty list of event types: ``*`` (every type), ``prefix.*`` or an exact type."""
    if not isinstance(events, list) or not 1 <= len(events) <= MAX_TYPES:
        raise InvalidEndpoint(f"events must be a list of 1-{MAX_TYPES} event types (or [\"*\"])")
    for item in events:
        known = isinstance(item, str) and (item == "*" or item in source.EVENT_TYPES or (
            item.endswith(".*") and any(t.startswith(item[:-1]) for t in source.EVENT_TYPES)))
        if not known:
            raise InvalidEndpoint(f"{str(item)[:80]!r} is not an event type: write one of "
                                  f"{', '.join(source.EVENT_TYPES)}, a prefix such as authorization.* or *")
    return list(dict.fromkeys(events))


def create(uow, *, url: str, events: list[str], description: str = "") -> dict:
    """A new endpoint for the events from now on; the answer carries its signing secret (shown once)."""
    check_url(url)
    events = check_types(events)
    if len(description) > MAX_DESCRIPTION:
        raise InvalidEndpoint(f"description must be at most {MAX_DESCRIPTION} characters")
    secret = signing.new_secret()
    endpoint_id = queries.create_endpoint(uow.conn, url=url, events=events, description=description, secret=secret,
                                          now=wall_now(), cursor=source.last_event_id(uow.conn))
    return {**get(uow, endpoint_id), "secret": secret}


def get(uow, endpoint_id: int) -> dict:
    endpoint = queries.get_endpoint(uow.conn, endpoint_id)
    if endpoint is None:
        raise EndpointNotFound(f"no webhook endpoint {endpoint_id}")
    endpoint["deliveries"] = queries.delivery_counts(uow.conn, [endpoint_id])[endpoint_id]
    return endpoint


def list_all(uow, *, after_id: int | None = None, limit: int = 50) -> list[dict]:
    rows = queries.list_endpoints(uow.conn, after_id=after_id, limit=limit)
    counts = queries.delivery_counts(uow.conn, [r["id"] for r in rows])
    for row in rows:
        row["deliveries"] = counts[row["id"]]
    return rows


def delete(uow, endpoint_id: int) -> None:
    if not queries.delete_endpoint(uow.conn, endpoint_id, now=wall_now()):
        raise EndpointNotFound(f"no webhook endpoint {endpoint_id}")


def enable(uow, endpoint_id: int) -> dict:
    if not queries.enable_endpoint(uow.conn, endpoint_id, now=wall_now()):
        raise EndpointNotFound(f"no webhook endpoint {endpoint_id}")
    return get(uow, endpoint_id)


def deliveries(uow, endpoint_id: int, *, after_id: int | None = None, limit: int = 50, status: str | None = None,
               newest_first: bool = False) -> list[dict]:
    get(uow, endpoint_id)
    return queries.list_deliveries(uow.conn, endpoint_id, after_id=after_id, limit=limit, status=status,
                                   newest_first=newest_first)


def resend(uow, endpoint_id: int, delivery_id: int) -> dict:
    """Queue the delivery's event again (a new delivery, same ``webhook-id``), behind what is pending."""
    get(uow, endpoint_id)
    new_id = queries.resend(uow.conn, endpoint_id, delivery_id, now=wall_now())
    if new_id is None:
        raise DeliveryNotFound(f"webhook endpoint {endpoint_id} has no delivery {delivery_id}")
    return queries.get_delivery(uow.conn, endpoint_id, new_id)
