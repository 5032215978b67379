"""The ``/docs`` page: the OpenAPI document read as a manual.

Every operation shows its summary, its description rendered from Markdown (markdown-it-py, raw HTML
escaped), its parameters and body fields, a ``curl`` command that calls it on the server the page came
from (method, URL with example path values, ``Authorization``, ``Idempotency-Key`` on a POST, the body
from the request example), the example answer and the problems it can give.
"""
from __future__ import annotations

import json
import re
import shlex
from typing import Any

from markdown_it import MarkdownIt
from markupsafe import Markup

from .openapi import every_operation

_markdown = MarkdownIt("commonmark", {"html": False})  # a description's raw HTML is shown, never run
# Path values the curl examples use where a parameter has no example of its own (the crypto-city preset).
PATH_VALUES = {"actor": "aigerim", "merchant_id": "alatau-coffee", "symbol": "BTC-KZT", "year": "2026",
               "licence_id": "1"}


def markdown(text: str | None) -> Markup:
    """``text`` (CommonMark) as HTML; reStructuredText's ````code```` reads as a code span too."""
    return Markup(_markdown.render(text or ""))


def markdown_inline(text: str | None) -> Markup:
    """One line of ``text`` (a summary, a field's description) as inline HTML."""
    return Markup(_markdown.renderInline(text or ""))


def example_path(path: str, parameters: list[dict]) -> str:
    """``path`` with each ``{name}`` replaced by its parameter's example (or a preset value, or 1)."""
    examples = {p["name"]: p.get("example", p.get("schema", {}).get("example")) for p in parameters
                if p.get("in") == "path"}

    def value(match: re.Match) -> str:
        name = match.group(1)
        found = examples.get(name)
        return str(found if found is not None else PATH_VALUES.get(name, 1))
    return re.sub(r"{([^}]+)}", value, path)


def curl_command(base_url: str, path: str, method: str, operation: dict, parameters: list[dict]) -> str:
    """A ``curl`` command line that makes this call (``$KEY``: an API key of a role that may)."""
    parts = ["curl"]
    if method != "get":
        parts += ["-X", method.upper()]
    lines = [" ".join(parts) + " " + shlex.quote(base_url.rstrip("/") + example_path(path, parameters))]
    if operation.get("security") != []:
        lines.append('-H "Authorization: Bearer $KEY"')
    if method == "post":
        key = operation.get("operationId", "call").replace("_", "-")
        lines.append("-H " + shlex.quote(f"Idempotency-Key: {key}-1"))
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if body is not None and "example" in body:
        lines.append('-H "Content-Type: application/json"')
        lines.append("-d " + shlex.quote(json.dumps(body["example"], ensure_ascii=False)))
    return " \\\n     ".join(lines)


def _success(operation: dict) -> tuple[str, Any] | None:
    for status, response in sorted(operation.get("responses", {}).items()):
        if status.startswith("2"):
            for media_type, content in response.get("content", {}).items():
                if "example" in content:
                    example = content["example"]
                    shown = example if isinstance(example, str) else json.dumps(example, indent=2,
                                                                               ensure_ascii=False)
                    return f"{status} {media_type}", shown
            return status, None
    return None


def sections(spec: dict, base_url: str) -> list[dict]:
    """The page's content: per tag, its operations ready to render."""
    by_tag: dict[str, list[dict]] = {tag["name"]: [] for tag in spec.get("tags", [])}
    paths = spec.get("paths", {})
    for path, method, operation in every_operation(spec):
        parameters = paths[path].get("parameters", []) + operation.get("parameters", [])
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        by_tag.setdefault((operation.get("tags") or ["other"])[0], []).append({
            "id": operation.get("operationId") or f"{method}{path}",
            "method": method, "path": path, "summary": markdown_inline(operation.get("summary")),
            "description": markdown(operation.get("description")), "parameters": parameters,
            "body_schema": (body or {}).get("schema", {}).get("$ref", "").rsplit("/", 1)[-1],
            "request_example": json.dumps(body["example"], indent=2, ensure_ascii=False)
            if body and "example" in body else None,
            "curl": curl_command(base_url, path, method, operation, parameters),
            "success": _success(operation),
            "problems": [(status, response.get("description", ""))
                         for status, response in sorted(operation.get("responses", {}).items())
                         if status.isdigit() and int(status) >= 400]})
    return [{"name": tag["name"], "description": markdown(tag.get("description")),
             "operations": by_tag.get(tag["name"], [])} for tag in spec.get("tags", [])]
