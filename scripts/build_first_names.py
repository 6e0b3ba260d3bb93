"""Build src/tidings/data/names/first_names_extra.txt: given names from Faker's person providers
(MIT licence) for the locales tidings meets most, minus a list of given names that are everyday
English words ("Will", "Rose", "Grace").

The recognisers use it as evidence that a capitalised run is a person ("Angela Merkel",
"Corrado Passera"). Faker is needed only to rebuild the file: ``pip install faker`` then
``python scripts/build_first_names.py``.
"""

from __future__ import annotations

import importlib
from pathlib import Path

LOCALES = ["en_US", "en_GB", "en_IN", "de_DE", "fr_FR", "fr_CA", "es_ES", "es_MX", "it_IT", "pt_PT", "pt_BR",
           "nl_NL", "pl_PL", "cs_CZ", "hr_HR", "sv_SE", "tr_TR", "ar_AA", "ru_RU", "uk_UA"]
OUT = Path(__file__).resolve().parent.parent / "src" / "tidings" / "data" / "names" / "first_names_extra.txt"


def _names(locale: str) -> set[str]:
    provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
    out: set[str] = set()
    for attr in ("first_names", "first_names_male", "first_names_female"):
        value = getattr(provider, attr, None)
        if value:
            out |= set(value.keys() if isinstance(value, dict) else value)
    return out


#: Given names that are everyday English words, left out. (A dictionary filter does not work:
#: simplemma's dictionaries list real given names too, "angela", "maria", "federico".)
ENGLISH_WORDS = {"Will", "Grace", "Hope", "Joy", "Faith", "Art", "Guy", "Bill", "Mark", "May", "Rose", "Page", "Van",
                 "Dean", "Major", "King", "Price", "Young", "Long", "Summer", "Autumn", "Dawn", "Sky", "Rock", "Ray",
                 "Jack", "Frank", "Sterling", "Crystal", "Amber", "Ruby", "Pearl", "Ivy", "Holly", "Iris", "Lily",
                 "Daisy", "Violet", "Heather", "Destiny", "Harmony", "Chance", "Ace", "Sunny", "Justice", "Earl",
                 "Royal", "Princess", "Star", "Gay", "Bird", "Brown", "Green", "White", "Black", "Gray", "Grey",
                 "Rich", "Miles", "Bay", "Storm", "Rain", "River", "Forest", "Hunter", "Mason", "Carter", "Parker",
                 "Cash", "Penny", "Sandy", "Rusty", "Buck", "Bud", "Chase", "Cliff", "Glen", "Lane", "Reed", "Wade",
                 "Winter", "Spring", "June", "April", "August", "Genesis", "Trinity", "Unique", "Precious", "Marine"}


def _common_word(name: str) -> bool:
    return name in ENGLISH_WORDS


def main() -> None:
    import faker

    names: set[str] = set()
    for locale in LOCALES:
        names |= _names(locale)
    kept = sorted({n for n in names if len(n) > 2 and n[:1].isupper() and " " not in n and not _common_word(n)})
    header = (f"# Given names from Faker {faker.VERSION} person providers (MIT licence), locales {', '.join(LOCALES)};\n"
              "# given names that are everyday English words (ENGLISH_WORDS in the script) left out.\n"
              "# Built by scripts/build_first_names.py. One name per line.\n")
    OUT.write_text(header + "\n".join(kept) + "\n", encoding="utf-8")
    print(f"{OUT}: {len(kept)} names")


if __name__ == "__main__":
    main()
