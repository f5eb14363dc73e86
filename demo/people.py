"""Who the demo customers and sales reps are: Faker ``zh_CN`` identities, made unique.

Faker gives realistic Chinese names, companies, phone numbers and addresses; this module
adds what the store insists on: emails unique among all customers (a clash would refuse
the whole batch) and phone numbers that pass the same E.164 check the aggregate applies.
Each customer's identity comes from a Faker re-seeded with the customer's own number, so
customer 17 of seed 42 is the same person however many customers are generated.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from faker import Faker

from aggregates.errors import ValidationFailed
from aggregates.validation import normalize_phone
from demo.vocabulary import EMAIL_DOMAINS

OWNER_COUNT = 24


@dataclass(frozen=True)
class Identity:
    """The personal data a customer registers with."""

    name: str
    email_local: str
    email_domain: str
    phone: str
    company: str

    def email(self, variant: str = "") -> str:
        """A unique address: the local part carries the customer number (see `People`)."""
        return f"{self.email_local}{variant}@{self.email_domain}"


def seed_letters(seed: int) -> str:
    """The seed written in letters only (base 26, "m" for minus): part of every email."""
    digits = ""
    rest = abs(seed)
    while True:
        rest, digit = divmod(rest, 26)
        digits = chr(ord("a") + digit) + digits
        if rest == 0:
            break
    return ("m" if seed < 0 else "") + digits


class People:
    """Identities for customers and the pool of sales reps (owners), from one seed."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._fake = Faker("zh_CN")
        self._fake.seed_instance(f"owners:{seed}")
        owners: list[str] = []
        while len(owners) < OWNER_COUNT:
            name = self._fake.name()
            if name not in owners:
                owners.append(name)
        self.owners: tuple[str, ...] = tuple(owners)
        self._valid_prefixes: set[str] = set()
        self.tag = seed_letters(seed)

    def identity(self, index: int, rng: random.Random) -> Identity:
        """Customer `index`'s identity.

        The email's local part is ``<user>.<index><seed letters>``: the user name has no
        dot, the index only digits and the seed tag only letters, so no two customers of
        any seeds share an address (a shared one would refuse a whole batch).
        """
        fake = self._fake
        fake.seed_instance(f"customer:{self.seed}:{index}")
        user = fake.user_name().replace(".", "")
        return Identity(
            name=fake.name(),
            email_local=f"{user}.{index}{self.tag}",
            email_domain=rng.choice(EMAIL_DOMAINS),
            phone=self.phone(),
            company=fake.company(),
        )

    def phone(self) -> str:
        """A mainland mobile number the aggregate accepts.

        Validity of a mobile number hangs on its prefix, so each prefix is checked once
        with the aggregate's own rule (a full check per number costs more than Faker).
        """
        for _ in range(20):
            candidate = self._fake.phone_number()
            prefix = candidate[:4]
            if prefix not in self._valid_prefixes:
                try:
                    normalize_phone(candidate)
                except ValidationFailed:
                    continue
                self._valid_prefixes.add(prefix)
            return candidate
        return "13800138000"  # pragma: no cover - Faker never misses 20 times in a row

    def address(self) -> str:
        return self._fake.address()
