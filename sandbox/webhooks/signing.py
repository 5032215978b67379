"""Signatures per the Standard Webhooks specification, made by the ``standardwebhooks`` package.

A delivery carries ``webhook-id`` (the event id: the same on every retry and resend, so a receiver can
drop duplicates), ``webhook-timestamp`` (wall-clock seconds; receivers refuse one more than five minutes
off) and ``webhook-signature`` (``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``).
"""
from __future__ import annotations

import base64
import secrets
from datetime import datetime, timezone

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24


def new_secret() -> str:
    """A fresh signing secret, ``whsec_`` + base64 of 24 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def check_secret(secret: str) -> str:
    """``secret`` if ``standardwebhooks`` can sign with it, else ValueError."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"a signing secret starts with {SECRET_PREFIX}")
    try:
        Webhook(secret)
    except Exception as error:  # noqa: BLE001 - binascii.Error, EmptyWebhookSecretError, ...
        raise ValueError(f"not a usable signing secret ({error})") from None
    return secret


def secret_option(secret: str | None) -> str:
    """A ``--secret`` option's value checked (``click.BadParameter`` naming it), or a new secret if none was given."""
    import click
    if secret is None:
        return new_secret()
    try:
        return check_secret(secret)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--secret") from None


def headers(secret: str, message_id: str, body: str, *, at: datetime | None = None) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body`` sent as ``message_id`` at wall time ``at`` (now)."""
    at = at or datetime.now(timezone.utc)
    return {"webhook-id": message_id, "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": Webhook(secret).sign(message_id, at, body)}
