"""The seeds: every real sentence survives cleaning, every boilerplate line named in the seeds'
README is gone."""

from __future__ import annotations

import pytest
import regex as re

from conftest import need_shared
from tidings.clean import clean

HR_SEED = "000_81ffc60cca3810fd.txt"
EN_SEED = "004_03a04a2913114bf7.txt"

EN_BOILERPLATE = [
    "Photo: Syrian children receive Russian humanitarian aid",
    "Sergei Bobylev/TASS",
    "Read more",
    "Russia to test new ship-based helicopters in Syria",
    "Subscribe to get the hand picked best stories every week",
    "All rights reserved by Rossiyskaya Gazeta.",
    "This website uses cookies.",
    "Click here to find out more.",
    "Accept cookies",
]
HR_BOILERPLATE = [">>", "Sirijski pobunjenici krenuli u ofenzivu na Alep",
                  "Ruski i američki zrakoplovi bili opasno blizu na sirijskom nebu"]


def _seed(name: str) -> str:
    return need_shared("seeds", name).read_text(encoding="utf-8")


def _sentences(text: str) -> list[str]:
    """Sentences of text with NBSP as space, split after . ? ! (and a closing quote)."""
    text = text.replace("\u00a0", " ")
    parts = re.split(r"(?<=[.?!][”\"]?)\s+(?=[“\"A-ZČĆŠŽĐ])", text)
    return [re.sub(r"\s+", " ", p).strip() for p in parts if p.strip()]


def test_croatian_seed():
    raw = _seed(HR_SEED)
    cleaned = clean(raw, "hr")
    for needle in HR_BOILERPLATE:
        assert needle not in cleaned
    body = raw[: raw.index(">>")]
    for sentence in _sentences(body):
        assert sentence in cleaned, sentence
    assert cleaned.endswith('ne smiju imati koristi samo borci", rekao je.')


@pytest.mark.parametrize("lang", ["en", None])
def test_english_seed(lang):
    raw = _seed(EN_SEED)
    cleaned = clean(raw, lang)
    for needle in EN_BOILERPLATE:
        assert needle not in cleaned, needle
    caption_lead = "Russian experts are convinced an attack by the Syrian army is almost inevitable, although"
    assert cleaned.count(caption_lead) == 1  # the caption printed twice is kept once, without "Photo:"
    real_lines = [line for line in raw.splitlines() if line.strip()
                  and not any(b in line for b in EN_BOILERPLATE) and "Photo:" not in line]
    assert len(real_lines) == 26  # title, headings and paragraphs
    for line in real_lines:
        for sentence in _sentences(line):
            assert sentence in cleaned, sentence


def test_paragraphs_are_kept():
    cleaned = clean(_seed(EN_SEED), "en")
    paragraphs = cleaned.split("\n\n")
    assert all(p.strip() == p and p for p in paragraphs)
    assert "Offensive very likely" in paragraphs
    assert paragraphs[0] == "Syria: What’s behind Russia’s humanitarian operation in Aleppo?"
    assert "\n\n\n" not in cleaned and "\u00a0" not in cleaned
