"""The workshop's participant sheet, for the operator of a server ``cryptocity workshop`` started: the same
HTML page (and PDF) the command wrote to disk. The keys on it exist only in that server's memory (the
database keeps their hashes), so any other server answers 404.
"""
from __future__ import annotations

from flask import Response, current_app

from ..auth import access
from .core import bp, principal, refused

SHEET_KEY = "WORKSHOP_SHEET"   # app.config: the sandbox.workshop.sheet.Sheet this server was started with


def _sheet():
    """The sheet, or the refusal: a regulator may read every page, but not the keys of the host and the
    participants."""
    if principal().role != "operator":
        return refused("The participant sheet holds every participant's key: the operator's only.", 403)
    sheet = current_app.config.get(SHEET_KEY)
    if sheet is None:
        return refused("This server was not started by `cryptocity workshop`: it has no participant sheet.", 404,
                       "No workshop sheet")
    return sheet


@bp.route("/workshop/sheet")
@access()   # the operator only: the sheet holds every participant's key
def workshop_sheet():
    sheet = _sheet()
    if isinstance(sheet, tuple):
        return sheet
    from sandbox.workshop.sheet import render_html
    return Response(render_html(sheet), mimetype="text/html")


@bp.route("/workshop/sheet.pdf")
@access()
def workshop_sheet_pdf():
    sheet = _sheet()
    if isinstance(sheet, tuple):
        return sheet
    from sandbox.workshop.sheet import render_pdf
    return Response(render_pdf(sheet), mimetype="application/pdf",
                    headers={"Content-Disposition": 'inline; filename="participants.pdf"'})
