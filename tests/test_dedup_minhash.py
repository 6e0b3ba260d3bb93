"""Exact and near-duplicate detection, and signatures that survive a restart."""

from __future__ import annotations

import pytest

from tidings.dedup import Deduplicator, content_hash

# 20 real-looking sentences (about 210 words) on one topic.
SENTENCES = [
    "The Sava river burst its banks near Zagreb on Tuesday morning.",
    "Three villages were flooded and the main road to Sisak was cut.",
    "Rescue teams evacuated more than four hundred residents overnight.",
    "The county prefect told reporters the situation was serious but under control.",
    "Meteorologists expect more rain until Thursday across the whole basin.",
    "The water level at the Jasenovac gauge is rising by two centimetres an hour.",
    "Army engineers are building a temporary dyke out of sandbags.",
    "Schools in the affected municipalities will stay closed until Monday.",
    "Farmers said thousands of hectares of maize were already under water.",
    "The government announced emergency aid for families who lost their homes.",
    "Neighbouring Slovenia reported lower water levels on the upper Sava.",
    "Bosnian authorities raised the alert level in Brcko and Gradiska.",
    "Volunteers from Zagreb travelled south to help fill sandbags.",
    "Power was cut in two villages as a precaution against electrocution.",
    "Drinking water is being delivered by tanker trucks to cut-off hamlets.",
    "The prime minister is expected to visit the flooded area on Wednesday.",
    "Insurance companies said it was too early to estimate the damage.",
    "Experts warned that the dykes built after the 2014 floods were never finished.",
    "Residents complained that warnings came too late to save their livestock.",
    "The Red Cross opened three shelters in school gyms and a sports hall.",
]
TEXT = " ".join(SENTENCES)


@pytest.fixture()
def dedup():
    d = Deduplicator()  # the shipped threshold
    d.add("original", TEXT)
    return d


def test_content_hash_ignores_typography():
    assert content_hash("Floods on the Sava!  “Hundreds” evacuated.") == content_hash("floods on the sava hundreds\nEVACUATED")
    assert content_hash("Floods on the Sava") != content_hash("Floods on the Drava")


def test_exact_duplicate(dedup):
    assert dedup.find(TEXT.upper().replace(" ", "  ")) == "original"


def test_near_duplicate_one_sentence_changed(dedup):
    assert len(TEXT.split()) >= 200
    for i in (0, 7, 19):
        changed = list(SENTENCES)
        changed[i] = "A completely different sentence about football results was inserted here instead."
        assert dedup.find(" ".join(changed)) == "original", i
    # A 20-word sentence in place of two 10-word ones: the hardest case the threshold is set for.
    long_sentence = ("A completely different and rather long sentence about last night's football results in the "
                     "national league was inserted here instead.")
    for i in range(0, 19, 3):
        changed = list(SENTENCES)
        changed[i:i + 2] = [long_sentence]
        assert dedup.find(" ".join(changed)) == "original", i


def test_same_topic_is_not_a_duplicate(dedup):
    other = ("Heavy rain caused the Sava river to flood several villages south of Zagreb this week. "
             "Hundreds of people had to leave their homes, and soldiers helped build sandbag walls. "
             "Forecasters say the rain will stop by Thursday, but the river will keep rising until the weekend. "
             "Schools are closed and farmers fear for their crops; the government promised aid.")
    assert dedup.find(other) is None
    assert dedup.find(" ".join(SENTENCES[:10])) is None  # half of the article is not a duplicate


def test_signature_round_trip():
    first = Deduplicator()
    blob = first.signature(TEXT)
    assert isinstance(blob, bytes) and blob
    restarted = Deduplicator()
    restarted.add("stored", "", signature=blob)
    changed = list(SENTENCES)
    changed[3] = "The county prefect said nothing at all to the waiting reporters on Tuesday evening."
    assert restarted.find(" ".join(changed)) == "stored"
    assert restarted.find("Something else entirely, about an election in Portugal.") is None


def test_first_added_wins_and_empty_text():
    d = Deduplicator()
    d.add("a", TEXT)
    d.add("b", TEXT + " One more sentence at the end.")
    assert d.find(TEXT + " One more sentence at the end.") == "b"  # exact match first
    assert d.find(TEXT + " A different final sentence here.") == "a"
    assert d.find("") is None
    assert d.signature("") == b""


def test_signature_from_other_settings_is_ignored():
    blob = Deduplicator({"minhash_permutations": 64}).signature(TEXT)
    d = Deduplicator()
    d.add("x", "", signature=blob)
    assert d.find(TEXT) is None


def test_one_reading_per_text_with_the_same_results(monkeypatch):
    """Ingest asks find, add and signature of one text: its words are read once, and every
    answer equals that of a Deduplicator computing afresh; beyond RECENT_TEXTS texts back the
    digest is computed again (the memory is bounded)."""
    from tidings import dedup as dedup_module

    reads = []
    real_tokens = dedup_module._tokens
    monkeypatch.setattr(dedup_module, "_tokens", lambda text: reads.append(text) or real_tokens(text))
    copy = TEXT.replace("Tuesday", "Wednesday")
    d = Deduplicator()
    d.add("original", TEXT)
    assert d.find(copy) == "original"
    d.add("copy", copy)
    blob = d.signature(copy)
    assert reads == [TEXT, copy]
    fresh = Deduplicator()
    assert blob == fresh.signature(copy) and fresh.signature(TEXT) == d.signature(TEXT)
    assert d.find(TEXT) == "original" and d._by_hash[content_hash(TEXT)] == "original"
    monkeypatch.setattr(dedup_module, "RECENT_TEXTS", 3)
    for k in range(5):
        d.find(f"{TEXT} {k}")
    assert len(d._recent) == 3
    reads.clear()
    assert d.signature(copy) == blob and reads == [copy]  # forgotten, read again: same signature
