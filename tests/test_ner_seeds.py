"""recognise() on the two seed articles finds the people and places a reader sees."""

from pathlib import Path

import pytest

from tidings.ner import recognise

SEEDS = Path(__file__).resolve().parents[1].parent / "shared" / "seeds"


def _seed(name: str) -> str:
    path = SEEDS / name
    if not path.is_file():
        pytest.skip(f"seed article {path} not found (needs the shared data beside the checkout)")
    return path.read_text(encoding="utf-8")


def _found(text: str, lang: str) -> dict[str, set[str]]:
    spans = recognise(text, lang)
    by_label: dict[str, set[str]] = {"PER": set(), "ORG": set(), "LOC": set()}
    for sp in spans:
        assert text[sp.start:sp.end] == sp.text
        by_label[sp.label].add(sp.text)
    starts = [sp.start for sp in spans]
    assert starts == sorted(starts)
    assert all(a.end <= b.start for a, b in zip(spans, spans[1:])), "spans overlap"
    return by_label


def _has(names: set[str], word: str) -> bool:
    return any(word in n.split() or n == word for n in names)


def test_croatian_seed_people_and_aleppo():
    found = _found(_seed("000_81ffc60cca3810fd.txt"), "hr")
    for person in ("Putin", "Peskov", "Rudskoj"):
        assert _has(found["PER"], person), (person, found["PER"])
    assert found["LOC"] & {"Alep", "Alepu", "Alepa"}, found["LOC"]


def test_english_seed_people_and_places():
    found = _found(_seed("004_03a04a2913114bf7.txt"), "en")
    for person in ("Shoigu", "Kerry"):
        assert _has(found["PER"], person), (person, found["PER"])
    assert any("Staffan de Mistura" in n for n in found["PER"]), found["PER"]
    for place in ("Aleppo", "Moscow", "Geneva"):
        assert place in found["LOC"], (place, found["LOC"])
