"""A farm as declared: where it is, what powers it, whether its meter works, how fast and how efficiently
it hashes. Validation in a fixed order, so the same bad declaration always gets the same refusal."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .consumption import parse_efficiency_mj, power_mw
from .errors import InvalidFarm

GRID = "grid"
OWN_OFFGRID = "own_offgrid"
POWER_SOURCES = (GRID, OWN_OFFGRID)
_IDENT = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
MAX_HASHRATE_THS = 10**9          # a million PH/s: more than the whole network
MAX_EFFICIENCY_MJ = 1_000_000     # 1 000 J/TH: older than any machine still running
MAX_LOAD_KW = 10**9               # a terawatt


@dataclass(frozen=True)
class FarmSpec:
    """A farm's declaration: hash rate in TH/s, efficiency in mJ/TH, maximum load in watts."""
    farm_id: str
    location: str
    power_source: str
    hashrate_ths: int
    efficiency_mj_per_th: int
    max_load_w: int
    meter_working: bool = True
    sell_bps: int = 0

    @property
    def power_mw(self) -> int:
        return power_mw(self.hashrate_ths, self.efficiency_mj_per_th)

    @classmethod
    def declare(cls, *, farm_id: str, location: str, power_source: str, hashrate_ths: int, efficiency_j_per_th,
                max_load_kw: int | None = None, meter_working: bool = True, sell_pct: int = 0) -> "FarmSpec":
        """Check a declaration (in this order: id, location, power source, hash rate, efficiency, maximum
        load, sell share) and return it; ``max_load_kw`` defaults to the machines' draw, rounded up to the
        kW. Raises ``InvalidFarm`` naming the first thing wrong."""
        if not isinstance(farm_id, str) or not _IDENT.match(farm_id):
            raise InvalidFarm("a farm id is 1-64 letters, digits and . : _ -", field="farm")
        if not isinstance(location, str) or not _IDENT.match(location):
            raise InvalidFarm("a location is 1-64 letters, digits and . : _ - (e.g. ekibastuz)", field="location")
        if power_source not in POWER_SOURCES:
            raise InvalidFarm(f"power source is {' or '.join(POWER_SOURCES)}, got {power_source!r}",
                              field="power_source")
        if not isinstance(hashrate_ths, int) or isinstance(hashrate_ths, bool) or not 0 < hashrate_ths <= MAX_HASHRATE_THS:
            raise InvalidFarm(f"hash rate is a whole number of TH/s between 1 and {MAX_HASHRATE_THS}",
                              field="hashrate_ths")
        try:
            eff = parse_efficiency_mj(efficiency_j_per_th)
        except ValueError as error:
            raise InvalidFarm(str(error), field="efficiency_j_per_th") from None
        if not 0 < eff <= MAX_EFFICIENCY_MJ:
            raise InvalidFarm("efficiency is more than 0 and at most 1 000 J/TH", field="efficiency_j_per_th")
        draw_mw = power_mw(hashrate_ths, eff)
        if max_load_kw is None:
            max_load_w = -(-draw_mw // 1_000_000) * 1000
        elif (not isinstance(max_load_kw, int) or isinstance(max_load_kw, bool) or max_load_kw * 1_000_000 < draw_mw
              or max_load_kw > MAX_LOAD_KW):
            raise InvalidFarm(f"maximum load is a whole number of kW at least the machines' draw "
                              f"({draw_mw / 1_000_000:.3f} kW)", field="max_load_kw")
        else:
            max_load_w = max_load_kw * 1000
        if not isinstance(sell_pct, int) or isinstance(sell_pct, bool) or not 0 <= sell_pct <= 100:
            raise InvalidFarm("sell_pct is a whole percentage from 0 to 100", field="sell_pct")
        return cls(farm_id, location, power_source, hashrate_ths, eff, max_load_w, bool(meter_working), sell_pct * 100)
