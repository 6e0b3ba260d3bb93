"""Acceptance of the v0.1 pipeline on the two seed articles (Croatian and English, Aleppo 2016)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tidings.cli import app

from conftest import need_shared

runner = CliRunner()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    seeds = need_shared("seeds")
    db = tmp_path_factory.mktemp("seeds") / "seeds.db"
    result = runner.invoke(app, ["--db", str(db), "ingest", "--default-date", "2016-10-28", str(seeds)])
    assert result.exit_code == 0, result.output
    listing = runner.invoke(app, ["--db", str(db), "stories", "--json"])
    stories = json.loads(listing.stdout)["stories"]
    return db, stories


def _story(db):
    stories = json.loads(runner.invoke(app, ["--db", str(db), "stories", "--json"]).stdout)["stories"]
    return json.loads(runner.invoke(app, ["--db", str(db), "story", stories[0]["id"], "--json"]).stdout)


def test_both_seeds_form_exactly_one_story(seeded):
    _, stories = seeded
    assert len(stories) == 1
    assert stories[0]["size"] == 2
    assert set(stories[0]["langs"]) == {"hr", "en"}


def test_aleppo_is_one_place_with_forms_from_both_languages(seeded):
    story = _story(seeded[0])
    aleppo = next(p for p in story["places"] if p["id"] == "geo:170063")
    assert aleppo["geonames_id"] == 170063
    assert aleppo["articles"] == 2
    assert {"Alep", "Alepa", "Alepu", "Aleppo"} <= set(aleppo["forms"])


@pytest.mark.parametrize("hr_form,en_form", [("Asada", "Assad"), ("Sirij", "Syria"), ("Rusij", "Russia"),
                                             ("Kremlj", "Kremlin")])
def test_names_in_both_articles_link_to_one_entity(seeded, hr_form, en_form):
    story = _story(seeded[0])
    everything = story["entities"] + story["places"]
    matches = [e for e in everything if any(hr_form in f for f in e["forms"]) and any(en_form in f for f in e["forms"])]
    assert len(matches) == 1, [(e["id"], e["forms"]) for e in everything]
    assert matches[0]["articles"] == 2


def test_putin_and_putina_are_one_entity(seeded):
    story = _story(seeded[0])
    putin = [e for e in story["entities"] if any(f.startswith("Putin") for f in e["forms"])]
    assert len(putin) == 1
    assert {"Putin", "Putina"} <= set(putin[0]["forms"])


def test_croatian_date_with_ordinal_dot_is_normalised_against_publication_year(seeded):
    story = _story(seeded[0])
    assert any(d["start"] == "2016-09-22" and any("22. rujna" in t for t in d["texts"]) for d in story["dates"])
    assert any(d["start"] == "2016-10-18" for d in story["dates"])


def test_no_boilerplate_in_stored_text(seeded):
    db = seeded[0]
    story = _story(db)
    texts = []
    for articles in story["articles"].values():
        for a in articles:
            texts.append(json.loads(runner.invoke(app, ["--db", str(db), "article", a["id"], "--json"]).stdout)["text"])
    joined = "\n".join(texts)
    for boilerplate in (">>Sirijski pobunjenici", ">>Ruski i američki", "Read more", "Subscribe to get",
                        "All rights reserved", "This website uses cookies", "Accept cookies", "Sergei Bobylev/TASS"):
        assert boilerplate not in joined
    assert joined.count("Syrian children receive Russian humanitarian aid") <= 1
    # real sentences survive
    assert "rekao je glasnogovornik Kremlja Dmitrij Peskov" in joined
    assert "Lukyanov told RBTH" in joined


def test_reingesting_the_seeds_adds_nothing(seeded):
    db = seeded[0]
    result = runner.invoke(app, ["--db", str(db), "ingest", "--json", "--default-date", "2016-10-28",
                                 str(need_shared("seeds"))])
    report = json.loads(result.stdout)
    assert report["added"] == 0 and report["already_stored"] == 2
