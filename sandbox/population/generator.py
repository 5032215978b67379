"""Deterministic population: same seed => same customers and merchants, byte for byte."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from faker import Faker

from .provider import KazakhstanProvider

MAX_CUSTOMERS = 100_000
MAX_MERCHANTS = 10_000


@dataclass(frozen=True)
class Customer:
    id: str
    first_name: str
    last_name: str
    gender: str
    iin: str
    phone: str
    city: str
    address: str
    iban: str
    kyc_tier: str
    resident: bool
    aifc_investor: bool

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass(frozen=True)
class MerchantSpec:
    id: str
    name: str
    mcc: str
    kind: str
    city: str
    address: str
    iban: str
    in_zone: bool


@dataclass(frozen=True)
class Population:
    seed: int
    customers: list[Customer]
    merchants: list[MerchantSpec]

    def to_json(self) -> str:
        """Canonical JSON (sorted keys): the byte-for-byte determinism contract."""
        return json.dumps({"seed": self.seed, "customers": [asdict(c) for c in self.customers],
                           "merchants": [asdict(m) for m in self.merchants]}, sort_keys=True, ensure_ascii=False)


def make_faker(seed: int | str) -> Faker:
    fake = Faker("en_US")   # locale only supplies fallbacks; all KZ data comes from the provider
    fake.add_provider(KazakhstanProvider)
    fake.seed_instance(seed)
    return fake


def generate(customers: int, merchants: int, seed: int, zone_city: str = "Alatau",
             progress=None, *, first_customer: int = 1, first_merchant: int = 1) -> Population:
    """N customers and M merchants from ``seed``. ``progress(done, total)`` is called if given.

    Ids are numbered from ``first_customer`` (``cust-00001``) and ``first_merchant`` (``merch-0001``), so a
    city populated again gets new people: they come from the seed and those two numbers together (the
    same three, the same people). Customer 1 is always Aigerim (the demo's heroine); everything else
    comes from the seed.
    """
    if not (0 <= customers <= MAX_CUSTOMERS and 0 <= merchants <= MAX_MERCHANTS):
        raise ValueError(f"customers must be 0..{MAX_CUSTOMERS} and merchants 0..{MAX_MERCHANTS}")
    if first_customer < 1 or first_merchant < 1:
        raise ValueError("ids are numbered from 1")
    # The first population keeps the plain seed (its people are what the seed has always given).
    fake = make_faker(seed if (first_customer, first_merchant) == (1, 1)
                      else f"{seed}:{first_customer}:{first_merchant}")
    total = customers + merchants
    people: list[Customer] = []
    used_iins: set[str] = set()
    for i in range(customers):
        number = first_customer + i
        gender = "female" if number == 1 else fake.random_element(("female", "male"))
        first = "Aigerim" if number == 1 else fake.kz_first_name(gender)
        iin = fake.kz_test_iin()
        while iin in used_iins:
            iin = fake.kz_test_iin()
        used_iins.add(iin)
        city = fake.kz_city()
        people.append(Customer(
            id=f"cust-{number:05d}", first_name=first, last_name=fake.kz_last_name(gender), gender=gender, iin=iin,
            phone=fake.kz_mobile(), city=city, address=fake.kz_address(city), iban=fake.kz_iban(),
            kyc_tier=fake.random_element(("basic", "basic", "full", "full", "full", "none")) if number > 1 else "full",
            resident=fake.random.random() < 0.8 if number > 1 else True,
            aifc_investor=fake.random.random() < 0.2 if number > 1 else False))
        if progress:
            progress(i + 1, total)
    shops: list[MerchantSpec] = []
    for j in range(merchants):
        name, mcc, kind = fake.kz_merchant()
        in_zone = first_merchant + j == 1 or fake.random.random() < 0.7
        city = zone_city if in_zone else fake.kz_city()
        shops.append(MerchantSpec(id=f"merch-{first_merchant + j:04d}", name=name, mcc=mcc, kind=kind, city=city,
                                  address=fake.kz_address(city), iban=fake.kz_iban(), in_zone=in_zone))
        if progress:
            progress(customers + j + 1, total)
    return Population(seed, people, shops)
