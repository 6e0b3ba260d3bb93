"""The [entities] settings a monitor is given are the ones its entity stage uses."""

from __future__ import annotations


def test_a_monitors_entity_settings_reach_the_entity_stage(tmp_path):
    """[entities] settings given to a monitor (a --config file, tidings.open(settings=...)) are
    the ones the entity stage uses, not only those of the environment."""
    import tidings
    from tidings import entities
    from tidings.config import Settings

    settings = Settings.load(env={}, overrides={"entities": {"max_name_words": 5, "spacy_matmul": "blis"}})
    try:
        with tidings.open(tmp_path / "e.db", settings=settings):
            assert entities.settings()["max_name_words"] == 5
            from tidings import ner

            assert ner._spacy_matmul() == "blis"
        with tidings.open(tmp_path / "e.db", settings=Settings.load(env={})):
            assert entities.settings()["max_name_words"] == Settings.load(env={}).section("entities")["max_name_words"]
    finally:
        entities.configure(None)
