"""The web layer: JSON API (OpenAPI 3, problem+json, API keys, idempotency) and the dashboard."""
from .app import create_app

__all__ = ["create_app"]
