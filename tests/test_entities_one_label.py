"""Entities that look right (issue #15 point 7, the part done): one name, one entity per article,
and a town the gazetteer knows, written after a locative word, is that town, not a person."""

from __future__ import annotations

from datetime import datetime

from tidings.entities import analyse

WHEN = datetime(2026, 12, 4)


def _by_form(analysis):
    out: dict[str, set[str]] = {}
    for m in analysis.mentions:
        out.setdefault(m.text, set()).add(m.entity_id)
    return out


def test_one_name_one_entity_per_article():
    text = ("Lava reached the edge of Grindavík on Sunday. Grindavík was evacuated in November, and residents "
            "of Grindavík fear for their homes.")
    forms = _by_form(analyse(text, "en", WHEN))
    assert len(forms["Grindavík"]) == 1, forms
    (eid,) = forms["Grindavík"]
    assert eid.startswith(("loc:", "geo:"))


def test_known_town_after_a_locative_is_a_place():
    text = "Flights from Keflavík continued on Friday. Keflavík airport stayed open, officials said."
    analysis = analyse(text, "en", WHEN)
    ids = {m.entity_id for m in analysis.mentions if m.text == "Keflavík"}
    assert ids == {"geo:3415496"}, ids
    assert analysis.entities["geo:3415496"].label == "LOC"


def test_people_stay_people():
    text = ("Kremlin spokesman Dmitry Peskov spoke in Moscow. Peskov said the talks in Moscow would go on, "
            "and Peskov declined to comment on Kiev.")
    analysis = analyse(text, "en", WHEN)
    ids = {m.entity_id for m in analysis.mentions if "Peskov" in m.text}
    assert len(ids) == 1 and next(iter(ids)).startswith("per:"), ids
