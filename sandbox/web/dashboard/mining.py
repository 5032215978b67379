"""Mining: every farm with its power, licence, levy accrued and paid, coins mined, credited, sold and
seized; the grid operator's detection cases and the flags (operator and regulator)."""
from __future__ import annotations

from flask import render_template

from ..auth import access
from .core import bp, city_or_none, needs_city


@bp.route("/mining")
@access("regulator")
def mining():
    city = city_or_none()
    if city is None:
        return needs_city("Mining", "farms, their power and levy, coins mined and sold, detection cases")
    return render_template("mining.html", title="Mining", m=city.mining_summary(), now=city.now())
