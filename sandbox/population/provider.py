"""A Faker provider for Kazakhstan: names (gendered surnames), cities, addresses, phones, IBANs, test IINs, merchants."""
from __future__ import annotations

from faker.providers import BaseProvider
from stdnum import iban as stdnum_iban

FEMALE_NAMES = ("Aigerim", "Dana", "Aruzhan", "Madina", "Dinara", "Asel", "Zhanna", "Gulnara", "Aliya", "Saule",
                "Kamila", "Tomiris", "Akbota", "Zarina", "Ainur", "Meruyert")
MALE_NAMES = ("Nursultan", "Yerlan", "Arman", "Daulet", "Askar", "Bauyrzhan", "Yerzhan", "Timur", "Nurlan", "Aidos",
              "Marat", "Serik", "Almas", "Dias", "Olzhas", "Sanzhar")
# Surname stems with -ov/-ev/-in forms: masculine stem+ov, feminine stem+ova.
SURNAME_STEMS = ("Aben", "Zhaksybek", "Nurlan", "Serikbay", "Tokay", "Kassym", "Omar", "Bekmukhambet", "Ismail",
                 "Sarsenbay", "Dzhumabay", "Mukan", "Akhmet", "Baimukhamet", "Yessen", "Kairat")
SURNAME_SUFFIX = {"ov": "ova", "ev": "eva", "in": "ina"}
# Modern ungendered surnames (the "-uly/-kyzy" reform; e.g. Seitkali).
NEUTRAL_SURNAMES = ("Seitkali", "Nurgali", "Amanzhol", "Tolegen", "Mukhtar", "Zhanibek")
CITIES = ("Astana", "Almaty", "Shymkent", "Karaganda", "Aktobe", "Atyrau", "Alatau")
STREETS = ("Abay Avenue", "Kabanbay Batyr Avenue", "Turan Avenue", "Dostyk Avenue", "Al-Farabi Avenue",
           "Tole Bi Street", "Kenesary Street", "Satpayev Street", "Zheltoksan Street", "Mangilik El Avenue",
           "Baitursynov Street", "Auezov Street")
MOBILE_PREFIXES = ("700", "701", "702", "705", "707", "708", "747", "771", "775", "776", "777", "778")
BANK_CODES = ("125", "601", "722", "914", "998")  # 3-digit bank codes; 998 is not a real bank
# (mcc, description, name patterns)
MERCHANT_KINDS = (
    ("5814", "cafe", ("{s} Coffee", "Kofe {s}", "{s} Bakery", "{s} Doner")),
    ("5411", "grocery", ("{s} Market", "Small {s} Grocery", "{s} Supermarket")),
    ("5812", "restaurant", ("{s} Restaurant", "{s} Shashlyk House", "Beshbarmak {s}")),
    ("4121", "taxi", ("{s} Taxi", "{s} Ride")),
    ("5732", "electronics", ("{s} Electronics", "{s} Digital")),
    ("7011", "hotel", ("Hotel {s}", "{s} Inn")),
)
MERCHANT_STEMS = ("Steppe", "Baiterek", "Altyn", "Tulpar", "Kokzhal", "Esil", "Saryarka", "Khan Tengri",
                  "Alatau", "Zhibek Zholy", "Nomad", "Samruk")


class KazakhstanProvider(BaseProvider):
    """Kazakhstan-flavoured data. All randomness comes from the Faker generator's seeded RNG."""

    def kz_first_name(self, gender: str = "female") -> str:
        return self.random_element(FEMALE_NAMES if gender == "female" else MALE_NAMES)

    def kz_last_name(self, gender: str = "female") -> str:
        if self.generator.random.random() < 0.15:
            return self.random_element(NEUTRAL_SURNAMES)
        stem = self.random_element(SURNAME_STEMS)
        suffix = "ov" if stem[-1] not in "aeiouy" else "ev"
        return stem + (suffix if gender == "male" else SURNAME_SUFFIX[suffix])

    def kz_city(self) -> str:
        return self.random_element(CITIES)

    def kz_street_address(self) -> str:
        return f"{self.random_element(STREETS)} {self.random_int(1, 180)}, apt {self.random_int(1, 320)}"

    def kz_address(self, city: str | None = None) -> str:
        city = city or self.kz_city()
        return f"{self.kz_street_address()}, {city} {self.random_int(10_000, 99_999):06d}, Kazakhstan"

    def kz_mobile(self) -> str:
        n = f"{self.random_int(0, 9_999_999):07d}"
        return f"+7 {self.random_element(MOBILE_PREFIXES)} {n[:3]} {n[3:5]} {n[5:]}"

    def kz_iban(self) -> str:
        """A 20-character KZ IBAN with valid mod-97 check digits (3-digit bank code + 13 characters)."""
        bban = self.random_element(BANK_CODES) + f"{self.random_int(0, 10**13 - 1):013d}"
        check = stdnum_iban.calc_check_digits("KZ00" + bban)
        return f"KZ{check}{bban}"

    def kz_test_iin(self) -> str:
        """12-digit IIN-like id in a clearly-test range: '9913' (month 13 cannot be a real birth date) + 8 digits."""
        return f"9913{self.random_int(0, 99_999_999):08d}"

    def kz_merchant(self) -> tuple[str, str, str]:
        """(name, mcc, kind) of a merchant with a real MCC."""
        mcc, kind, patterns = self.random_element(MERCHANT_KINDS)
        return self.random_element(patterns).format(s=self.random_element(MERCHANT_STEMS)), mcc, kind
