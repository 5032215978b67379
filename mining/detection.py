"""The grid operator's view: a substation's daily reading against what licensed farms declared.

A substation at a location reads, for one grid day: the location's ordinary load (its baseline), the
draw of every farm hooked to it — licensed or not — and a little seeded noise (the same seed gives the
same readings). The detection rule: ``unexplained = reading − baseline − declared``, where ``declared`` is
what the licensed farms there declared for that day; the location is flagged when ``unexplained`` exceeds
``max(min_unexplained_wh, baseline × tolerance_bps / 10 000)`` — the tolerance is set above the noise, so
noise alone never flags a location.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass


def noise_wh(seed: int | str, location: str, day: str, baseline_wh: int, noise_bps: int) -> int:
    """A deterministic draw in ``[-baseline × noise_bps / 10 000, +…]`` for ``location`` on ``day``."""
    span = baseline_wh * noise_bps // 10_000
    if span <= 0:
        return 0
    digest = hashlib.sha256(f"{seed}|{location}|{day}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % (2 * span + 1) - span


def substation_reading_wh(baseline_wh: int, farms_drawn_wh: int, noise: int) -> int:
    """What the substation's meter shows for the day (never negative)."""
    return max(0, baseline_wh + farms_drawn_wh + noise)


@dataclass(frozen=True)
class Finding:
    location: str
    day: str
    reading_wh: int
    baseline_wh: int
    declared_wh: int
    unexplained_wh: int
    threshold_wh: int

    @property
    def flagged(self) -> bool:
        return self.unexplained_wh > self.threshold_wh


def examine(location: str, day: str, reading_wh: int, baseline_wh: int, declared_wh: int, *,
            tolerance_bps: int, min_unexplained_wh: int) -> Finding:
    """Apply the detection rule to one day's reading at one location (see the module docstring)."""
    threshold = max(min_unexplained_wh, baseline_wh * tolerance_bps // 10_000)
    return Finding(location, day, reading_wh, baseline_wh, declared_wh, reading_wh - baseline_wh - declared_wh,
                   threshold)
