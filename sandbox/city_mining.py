"""The mining verbs of the ``CryptoCity`` facade (a mixin: each runs one service in one transaction)."""
from __future__ import annotations

from typing import Any

from .services import mining, mining_cases, mining_reports


class MiningVerbs:
    """Farms, meters, levies, detection and closure (see ``sandbox/services/mining*.py``, docs/mining.md)."""

    def register_farm(self, *, farm: str, location: str, power_source: str = "grid", hashrate_ths: int,
                      efficiency_j_per_th: Any, max_load_kw: int | None = None, meter_working: bool = True,
                      licensed: bool = True, sell_pct: int = 0) -> mining.FarmRegistered:
        """See ``services.mining.register_farm``."""
        return self.run(mining.register_farm, farm=farm, location=location, power_source=power_source,
                        hashrate_ths=hashrate_ths, efficiency_j_per_th=efficiency_j_per_th, max_load_kw=max_load_kw,
                        meter_working=meter_working, licensed=licensed, sell_pct=sell_pct)

    def meter(self, *, farm: str, working: bool) -> mining.MeterChanged:
        """Break (``working=False``) or repair a farm's meter."""
        return self.run(mining.set_meter, farm=farm, working=working)

    def pay_levy(self, *, farm: str) -> mining.LevyPaid:
        return self.run(mining.pay_levy, farm=farm)

    def detect(self) -> mining_cases.Detected:
        """Run the detection rule over the grid operator's new readings (cases opened at flagged locations)."""
        return self.run(mining_cases.detect)

    def close_farm(self, *, farm: str, reason: str = "") -> mining_cases.FarmClosedResult:
        return self.run(mining_cases.close_farm, farm=farm, reason=reason)

    def mining_summary(self) -> dict:
        return self.read(mining_reports.summary)

    def farm_report(self, farm: str) -> dict:
        return self.read(mining_reports.farm_report, farm)
