"""The dashboard's languages: English (the source text), Russian and Kazakh (Cyrillic), from the gettext
catalogues in ``sandbox/i18n/locale/<lang>/LC_MESSAGES/messages.po``, and money formatted per locale.

    translations("ru").gettext("Regulator")          # 'Регулятор'
    format_money(1_500_00, "KZT", 2, "ru")           # '1\xa0500,00\xa0₸' (CLDR: no-break space grouping, comma)

The ``.po`` files are the only catalogue files shipped: each is compiled in memory on first use (no
binary ``.mo`` in the repository, nothing to build at install time). English needs no catalogue: the
message ids are the English text.
"""
from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from gettext import NullTranslations
from io import BytesIO
from pathlib import Path

LOCALES = ("en", "ru", "kk")
DEFAULT_LOCALE = "en"
LANGUAGE_NAMES = {"en": "English", "ru": "Русский", "kk": "Қазақша"}   # each in its own language
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"


def N_(message: str) -> str:
    """Mark ``message`` for the catalogues without translating it here (it is translated where shown)."""
    return message


def po_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=len(LOCALES))
def translations(locale: str) -> NullTranslations:
    """The translations of ``locale`` (one of LOCALES; anything else is English), compiled from its ``.po``
    once per process."""
    if locale not in LOCALES or locale == DEFAULT_LOCALE:
        return NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import Translations

    with po_path(locale).open("rb") as po:
        catalog = read_po(po, locale=locale, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def format_money(amount_minor: int, asset: str, decimals: int, locale: str, *, with_code: bool = True) -> str:
    """``amount_minor`` (an int of the asset's minor unit) for people of ``locale``: every ledger decimal, the
    locale's grouping and decimal signs (babel.numbers, CLDR data); tenge with its sign ₸ outside English.
    Exact: the minor units become a Decimal, never a float."""
    from babel.numbers import format_currency, format_decimal

    value = Decimal(int(amount_minor)).scaleb(-decimals)
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    if with_code and asset == "KZT" and locale != DEFAULT_LOCALE:
        return format_currency(value, "KZT", format=pattern + "\xa0¤", locale=locale, currency_digits=False)
    text = format_decimal(value, format=pattern, locale=locale)
    return f"{text}\xa0{asset}" if with_code else text


__all__ = ["DEFAULT_LOCALE", "LANGUAGE_NAMES", "LOCALES", "N_", "format_money", "po_path", "translations"]
