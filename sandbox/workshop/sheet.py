"""The participant sheet: one card per participant with their API key and a QR code that signs a phone in.

A QR code holds ``<public URL>/login?key=<key>&next=/wallet`` (a customer) or ``…&next=/pos`` (a merchant):
the dashboard's sign-in takes the key from the link, keeps it in the session cookie and opens the page.
The sheet is HTML (self-contained: inline SVG codes, its own print CSS) and PDF (WeasyPrint renders the
same HTML). Codes are drawn by ``segno`` with fixed settings, so the same participants give the same sheet.

The keys are secrets: the sheet exists only in the files the command writes and in the memory of the
server it runs (``/workshop/sheet`` for the operator); the database keeps only their hashes.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from urllib.parse import urlencode

import segno

from ..apikeys import create_key

QR_ERROR = "m"      # 15 % of a code may be smudged or folded and it still reads
QR_SCALE = 3        # SVG user units per module: ~37 mm square for a typical link, at print size
PAGES = {"customer": "/wallet", "merchant": "/pos", "operator": "/"}


@dataclass(frozen=True)
class Participant:
    """One line of the sheet: who (role, id, name), the key, the link the QR code holds, and for a customer
    the card (number, expiry, CVV2) to type at an online checkout."""
    role: str
    subject: str | None
    name: str
    token: str
    url: str
    iban: str | None = None
    pan: str | None = None
    expiry: str | None = None
    cvv: str | None = None


@dataclass(frozen=True)
class Sheet:
    city_name: str
    dashboard_url: str
    participants: list[Participant]

    def of_role(self, role: str) -> list[Participant]:
        return [p for p in self.participants if p.role == role]


def join_url(public_url: str, token: str, role: str) -> str:
    """The link that signs a phone in with ``token`` and opens the page of ``role``."""
    return f"{public_url.rstrip('/')}/login?{urlencode({'key': token, 'next': PAGES[role]})}"


def make_keys(city, public_url: str, customers: list[str], merchants: list[str], *, label: str = "workshop"
              ) -> Sheet:
    """Create an operator key for the host and one key per customer and merchant (committed together), read
    each customer's card (audited as ``card.revealed``) and return the sheet."""
    with city.ledger.unit_of_work() as uow:
        now = uow.now()
        tokens = {("operator", None): create_key(uow.conn, "operator", None, now=now, label=f"{label}: host").token}
        for role, ids in (("customer", customers), ("merchant", merchants)):
            for subject in ids:
                tokens[(role, subject)] = create_key(uow.conn, role, subject, now=now,
                                                     label=f"{label}: participant").token
        uow.commit()
    names, shops = _people(city)
    out = []
    for (role, subject), token in tokens.items():
        url = join_url(public_url, token, role)
        if role == "customer":
            card = city.reveal_card(card_id=names[subject].card_id, by="operator")
            person = names[subject]
            out.append(Participant(role, subject, person.full_name or subject, token, url, person.iban, card.pan,
                                   card.expiry, card.cvv))
        elif role == "merchant":
            out.append(Participant(role, subject, shops[subject].name, token, url))
        else:
            out.append(Participant(role, None, "Workshop host", token, url))
    return Sheet(city.cfg.sandbox.name, public_url.rstrip("/") + "/", out)


def qr_svg(url: str) -> str:
    """The QR code of ``url`` as an inline ``<svg>`` element (same URL, same drawing)."""
    return segno.make(url, error=QR_ERROR, micro=False).svg_inline(scale=QR_SCALE, title=None)


def qr_png(url: str, path) -> None:
    """The same QR code as a PNG file (what a test decodes; segno writes PNG without Pillow)."""
    segno.make(url, error=QR_ERROR, micro=False).save(str(path), kind="png", scale=8, border=4)


def _card(p: Participant) -> str:
    e = html.escape
    if p.role == "customer":
        facts = (f"<dt>Customer</dt><dd>{e(p.subject or '')}</dd><dt>IBAN</dt><dd>{e(p.iban or '')}</dd>"
                 f"<dt>Card</dt><dd class='pan'>{e(_spaced(p.pan or ''))}</dd>"
                 f"<dt>Expiry · CVV2</dt><dd>{e(p.expiry or '')} · {e(p.cvv or '')}</dd>")
        opens = "your wallet and card (then the POS terminal to pay)"
    elif p.role == "merchant":
        facts = f"<dt>Merchant</dt><dd>{e(p.subject or '')}</dd>"
        opens = "your shop's POS terminal"
    else:
        facts = ""
        opens = "the whole dashboard as the operator (incidents are on the Regulator page)"
    return (f"<section class='participant {e(p.role)}' data-role='{e(p.role)}' data-subject='{e(p.subject or '')}'>"
            f"<div class='qr' data-url='{e(p.url)}'>{qr_svg(p.url)}</div>"
            f"<div class='who'><h2>{e(p.name)}</h2><p class='role'>{e(p.role)}</p><dl>{facts}"
            f"<dt>API key</dt><dd class='key'><code>{e(p.token)}</code></dd></dl>"
            f"<p class='hint'>Scan with a phone camera: it opens {opens}.</p></div></section>")


def _spaced(pan: str) -> str:
    return " ".join(pan[i:i + 4] for i in range(0, len(pan), 4))


SHEET_CSS = """
@page { size: A4; margin: 12mm; }
body { font-family: "DejaVu Sans", system-ui, sans-serif; color: #1d2433; margin: 0 auto; max-width: 190mm; }
h1 { font-size: 18pt; margin: 0 0 2mm; } .intro { margin: 0 0 6mm; font-size: 10pt; }
.participant { display: flex; gap: 6mm; border: 0.3mm dashed #8a94a6; padding: 4mm; margin-bottom: 4mm;
  break-inside: avoid; page-break-inside: avoid; }
.qr svg { width: 38mm; height: 38mm; } .who { min-width: 0; flex: 1; }
.who h2 { font-size: 13pt; margin: 0; } .role { margin: 0 0 2mm; text-transform: uppercase; font-size: 8pt;
  letter-spacing: 0.08em; color: #596275; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 1mm 3mm; margin: 0; font-size: 9.5pt; }
dt { color: #596275; } dd { margin: 0; } .pan { font-family: "DejaVu Sans Mono", monospace; }
.key code { font-size: 7.5pt; word-break: break-all; } .hint { font-size: 8pt; color: #596275; margin: 2mm 0 0; }
.operator { border-color: #b4232f; }
@media (max-width: 600px) { .participant { flex-direction: column; } .qr svg { width: 60vw; height: auto; } }
"""


def render_html(sheet: Sheet) -> str:
    """The sheet as one self-contained HTML page (host first, then customers, then merchants)."""
    e = html.escape
    ordered = sheet.of_role("operator") + sheet.of_role("customer") + sheet.of_role("merchant")
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>Participants · {e(sheet.city_name)}</title><style>{SHEET_CSS}</style></head><body>"
            f"<h1>{e(sheet.city_name)}: participant sheet</h1>"
            f"<p class='intro'>Dashboard: <a href='{e(sheet.dashboard_url)}'>{e(sheet.dashboard_url)}</a>. Cut along "
            "the dashed lines; each participant scans their code with a phone on the same network. The keys are "
            "sandbox keys for this city only.</p>"
            + "".join(_card(p) for p in ordered) + "</body></html>")


def render_pdf(sheet: Sheet) -> bytes:
    """The same page as a PDF (A4), through WeasyPrint."""
    from weasyprint import HTML
    return HTML(string=render_html(sheet)).write_pdf()


@dataclass(frozen=True)
class _Person:
    card_id: int
    full_name: str | None
    iban: str | None


@dataclass(frozen=True)
class _Shop:
    name: str


def _people(city) -> tuple[dict[str, _Person], dict[str, _Shop]]:
    """Customers (their first card, full name) and merchants by id, read here rather than through the
    dashboard's helpers (which import this module's page)."""
    from card import issuing

    from .. import city_state

    def read(uow):
        rows = issuing.first_cards(uow, limit=10_000)
        profiles = city_state.profiles(uow.conn, [row[0] for row in rows])
        people = {actor: _Person(card_id, profiles[actor].full_name if actor in profiles else None,
                                 profiles[actor].iban if actor in profiles else None)
                  for actor, card_id, _pan, _status in rows}
        return people, {m.id: _Shop(m.name) for m in issuing.merchants(uow, limit=10_000)}
    return city.ctx.read(read)
