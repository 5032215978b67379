"""The asset registry: which assets exist and how many decimals their ledger minor unit has."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import UnknownAsset

_CODE = re.compile(r"^[A-Z][A-Z0-9]{1,9}$")


@dataclass(frozen=True, slots=True)
class Asset:
    """An asset and its ledger minor unit: ``amount_minor = major * 10**decimals``."""

    code: str
    decimals: int
    name: str = ""

    def __post_init__(self) -> None:
        assert _CODE.match(self.code), f"asset code {self.code!r} must be 2-10 upper-case letters/digits"
        # 18 would overflow BIGINT for everyday amounts; ETH is kept in gwei (9) for that reason.
        assert 0 <= self.decimals <= 12, "ledger decimals must be between 0 and 12"

    @property
    def unit(self) -> int:
        return 10**self.decimals


DEFAULT_ASSETS: tuple[Asset, ...] = (
    Asset("KZT", 2, "Kazakhstani tenge"),
    Asset("KZTE", 2, "Tenge stablecoin"),
    Asset("USDT", 6, "Tether USD"),
    Asset("BTC", 8, "Bitcoin"),
    Asset("ETH", 9, "Ether (ledger unit: gwei)"),
)


class AssetRegistry:
    """Known assets by code. Lookups of an unknown code raise ``UnknownAsset``."""

    def __init__(self, assets: tuple[Asset, ...] | list[Asset] = DEFAULT_ASSETS) -> None:
        self._by_code: dict[str, Asset] = {}
        for asset in assets:
            self.register(asset)

    def register(self, asset: Asset) -> Asset:
        existing = self._by_code.get(asset.code)
        if existing is not None and existing != asset:
            raise ValueError(f"asset {asset.code} already registered with {existing.decimals} decimals")
        self._by_code[asset.code] = asset
        return asset

    def get(self, code: str) -> Asset:
        try:
            return self._by_code[code]
        except (KeyError, TypeError):
            known = ", ".join(sorted(self._by_code))
            raise UnknownAsset(f"unknown asset {code!r}; known assets: {known}", asset=str(code)) from None

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def __iter__(self):
        return iter(self._by_code.values())

    def codes(self) -> list[str]:
        return sorted(self._by_code)


DEFAULT_REGISTRY = AssetRegistry()
