"""Human amounts <-> integer minor units, both ways, with typed errors.

``parse_amount("2 500.00 KZT") == Money("KZT", 250_000)``;
``format_amount(250_000, "KZT") == "2 500.00 KZT"``. Floats are refused: binary
fractions cannot represent tiyn or satoshis exactly.

How typed amounts are read
--------------------------
People write tenge as "1 500,00" (Kazakhstan, most of Europe), "1.500,00" or
"1,500.00"; the reader accepts all three and never guesses silently.

* Characters: digits, at most one leading sign (``+``, ``-`` or the minus
  sign), the separators ``.`` and ``,``, and the *spaces* that group thousands:
  plain space, no-break space (U+00A0), narrow no-break space (U+202F), thin
  space (U+2009) and ``_``. At most 100 characters.
* One decimal separator, ``.`` or ``,``, appearing once, with at most the
  asset's decimals after it (counted as written: "0.500 KZT" has three digits
  and is refused, although it is worth 0.50).
* Grouping, optional: by spaces, or by the separator that is not the decimal
  one. Either way the first group has 1-3 digits and does not start with 0,
  every later group has exactly three digits, and groups only the digits
  before the decimal separator. One kind of grouping per amount.
* Which separator is which:
  - both ``.`` and ``,`` appear: the last one is the decimal separator, the
    other groups thousands ("1.500,00" and "1,500.00" are both 1 500.00);
  - one of them appears more than once: it groups thousands ("1,500,000");
  - spaces group the digits and ``.`` or ``,`` appears once: it is the decimal
    separator ("1 500,00" is 1 500.00);
  - ``.`` or ``,`` appears once, without spaces: it is the decimal separator,
    unless exactly three digits follow it, when it may also group thousands.
    Then the asset's decimals decide: for an asset with fewer than three
    decimals (KZT, KZTE) three digits cannot be a decimal part, so "1,500 KZT"
    and "1.500 KZT" are 1 500.00 KZT, which is what a cashier in Astana means;
    for an asset with three or more decimals (USDT, BTC, ETH) "1,500 BTC" is
    1.5 BTC or 1 500 BTC and is refused as ambiguous, naming both readings,
    except where only one reading is well formed ("0,500 BTC" and
    "1500,000 BTC" cannot be grouping, so they are 0.5 and 1 500). The
    formatter's own form always reads back: for an asset with exactly three
    decimals, "1.500" (a ``.`` followed by all of the asset's decimals) is 1.5.

Refusals, in this fixed precedence (each an ``InvalidAmount`` with a stable
``code``; the message quotes what was typed and says how it was read):

1. ``amount_not_a_number``: other characters, no digit at all, too long;
2. ``amount_bad_grouping``: a grouping that breaks the rules above
   ("15,00.5": ``.`` is the decimal separator, so ``,`` must group threes);
3. ``amount_ambiguous``: two well-formed readings with different values;
4. ``amount_negative``: the direction of money comes from the operation;
5. ``amount_too_precise``: more digits after the decimal separator than the
   asset's ledger unit has.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from .assets import DEFAULT_REGISTRY, Asset, AssetRegistry
from .errors import (AMOUNT_AMBIGUOUS, AMOUNT_BAD_GROUPING, AMOUNT_IS_FLOAT, AMOUNT_MISSING_ASSET, AMOUNT_NEGATIVE,
                     AMOUNT_NOT_A_NUMBER, AMOUNT_NOT_INTEGER, AMOUNT_TOO_PRECISE, InvalidAmount)

MAX_AMOUNT_TEXT = 100  # characters; the longest real amount is well under 40
SPACES = " \u00a0\u202f\u2009_"  # the thousands "spaces" people type (and Python's underscore)
_SIGNS = "+-\u2212"
_SEPARATORS = ".,"
_DIGITS = "0123456789"  # ASCII only: str.isdigit() also accepts "²" and other scripts' digits
_EXAMPLES = "write amounts like '2 500.00', '2 500,00' or '0.0015'"


@dataclass(frozen=True, slots=True)
class Money:
    """An amount of one asset in its ledger minor unit."""

    asset: str
    amount_minor: int

    def __str__(self) -> str:
        return format_amount(self.amount_minor, self.asset)


def require_minor(value: object, what: str = "amount_minor") -> int:
    """Return ``value`` if it is an ``int`` (not bool), else raise ``InvalidAmount``.

    The ledger's only accepted money type is a whole number of minor units.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float):
            raise InvalidAmount(
                f"{what} must be a whole number of minor units, not a float ({value!r}); "
                "floats cannot hold money exactly — pass an int such as 150000 or a string such as '0.0015 BTC'",
                code=AMOUNT_IS_FLOAT,
            )
        raise InvalidAmount(f"{what} must be a whole number of minor units, got {type(value).__name__} {value!r}",
                            code=AMOUNT_NOT_INTEGER)
    return value


@dataclass(frozen=True, slots=True)
class _Reading:
    """One way of reading typed digits: the digits before and after the decimal separator, and who is who."""

    whole: str  # as typed, grouping characters included
    frac: str
    decimal: str | None  # the decimal separator, None for a whole number
    grouping: str | None  # " " for spaces, "." or ",", None for no grouping

    @property
    def whole_digits(self) -> str:
        return self.whole.replace(self.grouping, "") if self.grouping else self.whole

    def shown(self) -> str:
        """The value as the formatter writes it (spaces group, '.' is the decimal separator): '1 500.00'."""
        whole = f"{int(self.whole_digits or '0'):,}".replace(",", " ")
        return f"{whole}.{self.frac}" if self.frac else whole

    def how(self) -> str:
        """'with ',' as the decimal separator and spaces grouping thousands' and the like."""
        grouped = f" with {_name(self.grouping)} grouping thousands" if self.grouping else ""
        if self.decimal is None:
            return "as a whole number" + grouped
        return f"with {_name(self.decimal)} as the decimal separator" + grouped.replace(" with", " and", 1)


def _name(separator: str | None) -> str:
    return "spaces" if separator == " " else f"'{separator}'"


class _Misread(Exception):
    """Why one reading of the text is refused: the refusal's code, the sentence, and the bare problem."""

    def __init__(self, code: str, why: str, problem: str = "") -> None:
        super().__init__(why)
        self.code, self.why, self.problem = code, why, problem or why


def _grouping_problem(whole: str, grouping: str) -> str | None:
    groups = whole.split(grouping)
    first = groups[0]
    if not first:
        return f"a number cannot start with {_name(grouping)}"
    if len(first) > 3:
        return f"the first group '{first}' has more than three digits"
    if len(groups) > 1 and first.startswith("0"):
        return f"a grouped number cannot start with '{first}'"
    for group in groups[1:]:
        if len(group) != 3:
            return f"'{group}' is not a group of three digits"
    return None


def _malformed(reading: _Reading, text: str) -> _Misread | None:
    """Why ``reading`` breaks the grouping rules, or None."""
    if " " in reading.frac:
        return _Misread(AMOUNT_BAD_GROUPING,
                        f"{text!r}: spaces may group only the digits before the decimal separator")
    if reading.grouping is not None:
        problem = _grouping_problem(reading.whole, reading.grouping)
        if problem is not None:
            return _Misread(AMOUNT_BAD_GROUPING, f"{text!r} reads {reading.how()}, but {problem}; thousands "
                                                   "are grouped in threes, like '1 500 000,00'", problem)
    return None


def _too_precise(reading: _Reading, text: str, spec: Asset) -> _Misread | None:
    """Why ``reading`` has more decimals than ``spec``'s ledger unit, or None."""
    if len(reading.frac) <= spec.decimals:
        return None
    problem = (f"{len(reading.frac)} digits follow {_name(reading.decimal)}, more decimals than {spec.code} has "
               f"({spec.decimals})")
    return _Misread(AMOUNT_TOO_PRECISE,
                    f"{text!r} reads as {reading.shown()} {reading.how()}: {problem}; the smallest "
                    f"{spec.code} amount is {_format(1, spec)} {spec.code}", problem)


def _readings(body: str, text: str) -> list[_Reading]:
    """The candidate readings of the sign-less ``body`` (its spaces normalised to ' '): one, or two when a
    lone separator followed by three digits may be decimal or grouping (the decimal reading first)."""
    marks = [(i, c) for i, c in enumerate(body) if c in _SEPARATORS]
    kinds = {c for _, c in marks}
    spaced = " " in body
    if not marks:
        return [_Reading(body, "", None, " " if spaced else None)]
    if len(kinds) == 2:
        at, decimal = marks[-1]
        other = "," if decimal == "." else "."
        if sum(1 for _, c in marks if c == decimal) > 1:
            raise _Misread(AMOUNT_BAD_GROUPING, f"{text!r}: '{decimal}' comes last, so it is the decimal "
                                                  f"separator and '{other}' groups thousands, but '{decimal}' "
                                                  "appears more than once")
        if spaced:
            raise _Misread(AMOUNT_BAD_GROUPING, f"{text!r}: thousands are grouped both by spaces and by "
                                                  f"'{other}'; use one of them")
        return [_Reading(body[:at], body[at + 1:], decimal, other)]
    (mark,) = kinds
    if len(marks) > 1:
        if spaced:
            raise _Misread(AMOUNT_BAD_GROUPING, f"{text!r}: '{mark}' appears more than once, so it groups "
                                                  "thousands, but spaces group them too; use one of them")
        return [_Reading(body, "", None, mark)]
    at = marks[0][0]
    as_decimal = _Reading(body[:at], body[at + 1:], mark, " " if spaced else None)
    if spaced or len(as_decimal.frac) != 3:
        return [as_decimal]
    return [as_decimal, _Reading(body, "", None, mark)]


def _choose(text: str, spec: Asset, candidates: list[_Reading]) -> tuple[_Reading, _Misread | None]:
    """The reading of ``text`` for ``spec`` (see the module docstring) and, when even that one has too many
    decimals, the refusal to raise once the sign has been checked (negative comes first)."""
    malformed = [_malformed(r, text) for r in candidates]
    formed = [r for r, m in zip(candidates, malformed) if m is None]
    if not formed:
        raise malformed[0]
    precise = [r for r in formed if _too_precise(r, text, spec) is None]
    if not precise:
        (reading,) = formed  # a grouping reading has no decimals, so this is the decimal one
        refusal = _too_precise(reading, text, spec)
        if len(candidates) == 2:
            refusal = _Misread(refusal.code, f"{refusal.why} (nor can {_name(reading.decimal)} group thousands "
                                             f"here: {malformed[1].problem})")
        return reading, refusal
    if len(precise) == 2:
        as_decimal, as_grouping = precise
        if not (as_decimal.decimal == "." and len(as_decimal.frac) == spec.decimals):  # the formatter's own form
            small = _unambiguous(as_decimal, spec)
            raise _Misread(AMOUNT_AMBIGUOUS,
                           f"{text!r} is ambiguous for {spec.code}: {small} {spec.code} {as_decimal.how()}, or "
                           f"{as_grouping.shown()} {spec.code} {as_grouping.how()}; write '{small}' or "
                           f"'{as_grouping.shown()}'")
    return precise[0], None


def _unambiguous(reading: _Reading, spec: Asset) -> str:
    """The decimal reading written so it cannot be misread: '1.5' for "1,500", '1.2340' for "1,234"."""
    frac = reading.frac.rstrip("0")
    if len(frac) == 3 and spec.decimals > 3:
        frac += "0"
    return _Reading(reading.whole, frac, ".", reading.grouping).shown()


def _read(value: str, spec: Asset) -> Decimal:
    """Read an amount of ``spec`` typed by a person (the grammar in the module docstring), exactly."""
    text = value.strip()
    if len(text) > MAX_AMOUNT_TEXT:
        raise InvalidAmount(f"an amount is at most {MAX_AMOUNT_TEXT} characters, got {len(text)}",
                            code=AMOUNT_NOT_A_NUMBER)
    sign, body = (text[0], text[1:]) if text[:1] in tuple(_SIGNS) else ("", text)
    body = "".join(" " if c in SPACES else c for c in body)
    if not any(c in _DIGITS for c in body) or any(c not in _DIGITS and c not in _SEPARATORS and c != " "
                                                   for c in body):
        raise InvalidAmount(f"{value!r} is not a number; {_EXAMPLES}", code=AMOUNT_NOT_A_NUMBER)
    try:
        reading, too_precise = _choose(value, spec, _readings(body, value))
    except _Misread as misread:
        raise InvalidAmount(misread.why, code=misread.code) from None
    number = Decimal(f"{reading.whole_digits or '0'}.{reading.frac or '0'}")
    if sign in ("-", "\u2212") and number:
        raise InvalidAmount(f"amounts cannot be negative ({value!r} reads as -{reading.shown()}); the direction "
                            "comes from the operation", code=AMOUNT_NEGATIVE)
    if too_precise is not None:
        raise InvalidAmount(too_precise.why, code=too_precise.code)
    return number


def to_minor(asset: str, value: str | Decimal | int, registry: AssetRegistry = DEFAULT_REGISTRY) -> int:
    """Convert a human amount of ``asset`` in MAJOR units to minor units.

    ``value`` is typed text read by the grammar in the module docstring ("1 500,00", "0.0015"), an exact
    ``Decimal`` or a whole ``int``. Refuses floats, non-numbers, negatives, ambiguous or badly grouped text
    and more decimals than the asset's ledger unit, each with its own ``code``.
    """
    spec = registry.get(asset)
    if isinstance(value, bool) or isinstance(value, float):
        require_minor(value, "amount")
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, str):
        number = _read(value, spec)
    else:
        raise InvalidAmount(f"cannot read an amount from {type(value).__name__}", code=AMOUNT_NOT_A_NUMBER)
    try:
        if not number.is_finite():
            raise InvalidAmount(f"{value!r} is not a finite amount", code=AMOUNT_NOT_A_NUMBER)
    except InvalidOperation:  # pragma: no cover - defensive
        raise InvalidAmount(f"{value!r} is not a number", code=AMOUNT_NOT_A_NUMBER) from None
    if number < 0:
        raise InvalidAmount(f"amounts cannot be negative ({value!r}); the direction comes from the operation",
                            code=AMOUNT_NEGATIVE)
    minor = number.scaleb(spec.decimals)
    if minor != minor.to_integral_value():
        raise InvalidAmount(
            f"{value!r} has more decimals than {asset} allows ({spec.decimals}); "
            f"the smallest {asset} amount is {format_amount(1, asset, registry)}",
            code=AMOUNT_TOO_PRECISE,
        )
    return int(minor)


def parse_amount(text: str, registry: AssetRegistry = DEFAULT_REGISTRY) -> Money:
    """Parse ``"<number> <ASSET>"`` (e.g. ``"2 500.00 KZT"``, ``"0.0015 BTC"``) into ``Money``."""
    if not isinstance(text, str):
        raise InvalidAmount(f"expected text like '2 500.00 KZT', got {type(text).__name__}", code=AMOUNT_NOT_A_NUMBER)
    parts = text.strip().rsplit(None, 1)
    if len(parts) != 2:
        raise InvalidAmount(f"{text!r} needs a number and an asset, like '2 500.00 KZT'", code=AMOUNT_MISSING_ASSET)
    number, asset = parts
    registry.get(asset)  # UnknownAsset first: the asset decides the decimals
    return Money(asset, to_minor(asset, number, registry))


def format_amount(amount_minor: int, asset: str, registry: AssetRegistry = DEFAULT_REGISTRY,
                  with_code: bool = True) -> str:
    """Format minor units for people: space-grouped thousands, all ledger decimals, asset code.

    ``format_amount(51_000_000, "KZT") == "510 000.00 KZT"``. The one formatter for every text a person
    reads (decline reasons, reports, attestation, CLI, dashboard); ``parse_amount`` reads it back.
    """
    spec = registry.get(asset)
    text = _format(amount_minor, spec)
    return f"{text} {asset}" if with_code else text


def _format(amount_minor: int, spec: Asset) -> str:
    sign = "-" if amount_minor < 0 else ""
    whole, frac = divmod(abs(amount_minor), spec.unit)
    text = f"{whole:,}".replace(",", " ")
    if spec.decimals:
        text += "." + str(frac).rjust(spec.decimals, "0")
    return sign + text


def to_decimal(amount_minor: int, asset: str, registry: AssetRegistry = DEFAULT_REGISTRY) -> Decimal:
    """Minor units as an exact Decimal of major units (for prices and display, never for the ledger)."""
    return Decimal(amount_minor).scaleb(-registry.get(asset).decimals)
