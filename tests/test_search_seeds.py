"""Search across languages and word forms on the two seed articles (issue #13 acceptance)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tidings.cli import app
from tidings.search import vector_index_status
from tidings.search.entities import find_entities

runner = CliRunner()


def _langs(monitor, query, **options):
    return {h["lang"] for h in monitor.search(query, **options)["hits"]}


@pytest.mark.parametrize("query", ["Aleppo", "Alep", "Алеппо", "حلب", "Asad"])
def test_a_name_in_any_form_or_script_finds_both_seeds(seeds_monitor, query):
    result = seeds_monitor.search(query)
    assert {h["lang"] for h in result["hits"]} == {"en", "hr"}
    # both found through the entity, not only dragged in by their story
    assert all(h["matched"].get("entities") for h in result["hits"]), result["hits"]
    assert result["entities"][0]["id"] in {"geo:170063", "per:assad"}


def test_inflected_form_finds_the_croatian_seed_by_its_words(seeds_monitor):
    hits = seeds_monitor.search("Putina", methods=("words",))["hits"]
    assert hits[0]["lang"] == "hr"       # Putina, Putin and Putina's stem putin: the best match
    assert hits[0]["matched"]["words"] == ["putina"]
    hits = seeds_monitor.search("Alepu", methods=("words",))["hits"]   # the text says Alep, Alepa, Alepu
    assert [h["lang"] for h in hits] == ["hr"]


def test_each_hit_gets_its_own_snippet(seeds_monitor):
    """The words are highlighted in the article that holds them; an article found by the entity
    the query names, in other words, shows where its text names that entity, in its own form."""
    hits = {h["lang"]: h for h in seeds_monitor.search("Alepu")["hits"]}
    assert set(hits) == {"en", "hr"}
    assert "[Alepu]" in hits["hr"]["snippet"]
    assert "[Aleppo]" in hits["en"]["snippet"] and "Alepu" not in hits["en"]["snippet"]
    hits = {h["lang"]: h for h in seeds_monitor.search("Aleppo")["hits"]}
    assert "[Aleppo]" in hits["en"]["snippet"]
    assert "[Alep" in hits["hr"]["snippet"] and "Aleppo" not in hits["hr"]["snippet"]
    # the meaning alone finds the Croatian seed; nothing to highlight: the start of its text
    hit = next(h for h in seeds_monitor.search("Aleppo", methods=("meaning",))["hits"] if h["lang"] == "hr")
    assert "[" not in hit["snippet"] and hit["snippet"]


def test_putina_finds_the_croatian_seed_first(seeds_monitor):
    hits = seeds_monitor.search("Putina")["hits"]
    assert hits[0]["lang"] == "hr"
    assert hits[0]["matched"]["entities"] == ["per:putin"]


def test_english_description_finds_the_croatian_seed_by_meaning(seeds_monitor):
    query = "humanitarian corridors for civilians"
    assert _langs(seeds_monitor, query, methods=("words",)) == {"en"}     # no English word in the Croatian
    assert _langs(seeds_monitor, query, methods=("entities",)) == set()   # and no name
    hits = seeds_monitor.search(query)["hits"]
    croatian = [h for h in hits if h["lang"] == "hr"]
    assert croatian and set(croatian[0]["matched"]) & {"meaning", "story"}


def test_filters(seeds_monitor):
    assert _langs(seeds_monitor, "Aleppo", lang="hr") == {"hr"}
    assert _langs(seeds_monitor, "Aleppo", since="2016-10-27", until="2016-10-29") == {"en", "hr"}
    assert _langs(seeds_monitor, "Aleppo", since="2016-10-29") == set()
    assert _langs(seeds_monitor, "Aleppo", entity="per:putin") == {"hr"}     # only the Croatian names Putin
    assert _langs(seeds_monitor, "Putin", place="geo:170063", lang="en") <= {"en"}


def test_hits_are_grouped_by_story(seeds_monitor):
    result = seeds_monitor.search("Aleppo")
    assert len(result["stories"]) == 1
    assert set(result["stories"][0]["hits"]) == {h["id"] for h in result["hits"]}


def test_entities_are_found_by_any_form(seeds_monitor):
    store = seeds_monitor.store
    assert find_entities(store, "Asad")[0]["id"] == "per:assad"
    assert find_entities(store, "Алеппо")[0]["id"] == "geo:170063"
    assert find_entities(store, "Alepa")[0]["id"] == "geo:170063"
    assert find_entities(store, "Putina")[0]["id"] == "per:putin"
    assert find_entities(store, "Kremlja")[0]["id"] == "org:kremlin"
    typed = [e["id"] for e in find_entities(store, "Ale")]     # type-ahead: a prefix of a form
    assert "geo:170063" in typed
    assert {e["label"] for e in find_entities(store, None, label="PER")} == {"PER"}
    aleppo = next(e for e in find_entities(store, "Aleppo"))
    assert {"Alep", "Alepu", "Aleppo"} <= set(aleppo["forms"]) and aleppo["articles"] == 2
    assert find_entities(store, "Qwxzyv") == []


def test_cli_search_and_entities(seeds_monitor, capsys):
    db = seeds_monitor.store.path
    result = runner.invoke(app, ["--db", db, "search", "Алеппо", "--json"])
    assert result.exit_code == 0, result.output
    assert {h["lang"] for h in json.loads(result.stdout)["hits"]} == {"en", "hr"}
    result = runner.invoke(app, ["--db", db, "search", "Alep"])
    assert result.exit_code == 0 and "why: names geo:170063" in result.stdout
    assert "[Alep" in result.stdout and "[Aleppo]" in result.stdout   # each hit's snippet, its own form
    none = runner.invoke(app, ["--db", db, "search", "xylophone quintessence"])
    assert none.exit_code == 1 and "no article matches" in none.stderr
    listed = runner.invoke(app, ["--db", db, "entities", "-q", "Asad", "--json"])
    assert listed.exit_code == 0 and json.loads(listed.stdout)[0]["id"] == "per:assad"
    missing = runner.invoke(app, ["--db", db, "entities", "-q", "Qwxzyv"])
    assert missing.exit_code == 1 and "no entity matches" in missing.stderr
    # a user error goes through the entry point, which turns it into one error line and status 2
    from tidings.cli import main

    with pytest.raises(SystemExit) as bad:
        main(["--db", db, "entities", "--label", "XYZ"])
    assert bad.value.code == 2 and "unknown label" in capsys.readouterr().err


def test_vector_index_is_in_step_after_ingest(seeds_monitor):
    status = vector_index_status(seeds_monitor.store)
    assert status["in_step"], status
    assert status["indexed"] == status["articles_with_vectors"] == 2
