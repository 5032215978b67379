"""Seeded population: Kazakh people and zone merchants (Faker has no kk_KZ locale)."""
from .generator import Customer, MerchantSpec, Population, generate
from .provider import KazakhstanProvider

__all__ = ["Customer", "KazakhstanProvider", "MerchantSpec", "Population", "generate"]
