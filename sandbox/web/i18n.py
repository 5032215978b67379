"""The dashboard in English, Russian or Kazakh: which language a request gets, the gettext callables of
the templates (jinja2's i18n extension over ``sandbox.i18n``'s catalogues), money per locale and the
translated decline reasons. The JSON API stays English: its codes are for machines.

Choosing the language: ``?lang=ru|kk|en`` on any dashboard page (remembered in the ``lang`` cookie for a
year), else that cookie, else the browser's Accept-Language, else English.
"""
from __future__ import annotations

from urllib.parse import urlencode

from flask import Flask, g, request

from ..i18n import DEFAULT_LOCALE, LANGUAGE_NAMES, LOCALES, format_money, translations

COOKIE = "lang"
COOKIE_MAX_AGE_S = 365 * 24 * 3600


def current_locale() -> str:
    """The locale of the request being served (English outside a request or for the API)."""
    try:
        return g.get("locale", DEFAULT_LOCALE)
    except RuntimeError:   # no application context
        return DEFAULT_LOCALE


def gettext(message: str) -> str:
    return translations(current_locale()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current_locale()).ngettext(singular, plural, n)


def localized_money(amount_minor: int, asset: str, registry, *, with_code: bool = True) -> str | None:
    """``amount_minor`` formatted for the request's locale, or None in English (the ledger's own format,
    "1 500.00 KZT", stays the English one)."""
    locale = current_locale()
    if locale == DEFAULT_LOCALE:
        return None
    return format_money(amount_minor, asset, registry.get(asset).decimals, locale, with_code=with_code)


def decline_reason(text: str | None, response_code: str | None) -> str:
    """A decline's reason for people: in English the card's own words; otherwise the translated reason of
    its response code, followed by the card's detail (amounts, limits, names) when it says more."""
    from card.response_codes import REASONS

    text = text or ""
    if current_locale() == DEFAULT_LOCALE or response_code not in REASONS:
        return text
    general = gettext(REASONS[response_code])
    return general if text in ("", REASONS[response_code]) else f"{general} ({text})"


def _choose_locale() -> None:
    if request.blueprint != "dashboard":
        return
    asked = request.args.get("lang")
    if asked in LOCALES:
        g.locale, g.remember_locale = asked, True
        return
    remembered = request.cookies.get(COOKIE)
    g.locale = remembered if remembered in LOCALES else (
        request.accept_languages.best_match(LOCALES, default=DEFAULT_LOCALE) or DEFAULT_LOCALE)


def _remember_locale(response):
    if g.get("remember_locale"):
        response.set_cookie(COOKIE, g.locale, max_age=COOKIE_MAX_AGE_S, samesite="Lax", httponly=True)
    return response


def _language_links() -> list[tuple[str, str, str]]:
    """(code, name, link) per language: this page with ``?lang=code``."""
    args = request.args.to_dict()
    return [(code, LANGUAGE_NAMES[code], "?" + urlencode({**args, "lang": code})) for code in LOCALES]


def init_app(app: Flask) -> None:
    """Install the i18n extension, the language choice and the template helpers on ``app``."""
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.install_gettext_callables(gettext, ngettext)   # type: ignore[attr-defined]  # old style: results are escaped
    app.jinja_env.filters["reason"] = decline_reason
    app.before_request(_choose_locale)
    app.after_request(_remember_locale)

    @app.context_processor
    def _language():
        if not request or request.blueprint != "dashboard":
            return {}
        return {"lang": current_locale(), "languages": _language_links()}


__all__ = ["COOKIE", "current_locale", "decline_reason", "gettext", "init_app", "localized_money",
           "ngettext"]
