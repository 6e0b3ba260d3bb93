"""similarity(): score and every component stay in [0, 1]; evidence moves the score the right way."""

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from tidings.errors import ConfigError

from tidings.models import StoryFeatures
from tidings.similarity import SimilaritySettings, set_cosine, similarity

T0 = datetime(2016, 12, 13, 9, tzinfo=timezone.utc)
WEIGHTS = {"text_weight": 1.0, "entity_weight": 0.3, "place_weight": 0.2, "time_weight": 0.1}


def feat(vec, entities=(), places=(), hours=0.0, lang="en"):
    v = np.asarray(vec, np.float32)
    return StoryFeatures(article_id=str(hash((tuple(vec), hours))), lang=lang,
                         published_at=T0 + timedelta(hours=hours), embedding=v / np.linalg.norm(v),
                         entities=frozenset(entities), places=frozenset(places))


def test_components_are_in_unit_interval():
    rng = np.random.default_rng(3)
    for _ in range(200):
        a = feat(rng.normal(size=8), entities=rng.choice(list("abcdef"), 3), places=["p1"], hours=0)
        b = feat(rng.normal(size=8), entities=rng.choice(list("abcdef"), 2), places=["p2"],
                 hours=float(rng.uniform(-500, 500)))
        r = similarity(a, b, WEIGHTS)
        assert 0.0 <= r.score <= 1.0
        assert {"text", "entities", "places", "time"} <= set(r.components)
        assert all(0.0 <= v <= 1.0 for v in r.components.values())


def test_identical_articles_score_one():
    a = feat([1, 2, 3], entities=["Q1"], places=["geo:1"])
    r = similarity(a, a, WEIGHTS)
    assert r.score == pytest.approx(1.0)
    assert r.components["entities"] == 1.0 and r.components["time"] == 1.0


def test_shared_entities_and_close_dates_raise_the_score():
    base = feat([1, 0.2, 0], entities=["Q1", "Q2"], places=["geo:9"])
    same = feat([1, 0, 0.3], entities=["Q1", "Q2"], places=["geo:9"], hours=2)
    other = feat([1, 0, 0.3], entities=["Q7"], places=["geo:4"], hours=300)
    assert similarity(base, same, WEIGHTS).score > similarity(base, other, WEIGHTS).score


def test_missing_entities_do_not_count_as_disagreement():
    a = feat([1, 0.1, 0])
    b = feat([1, 0, 0.1])
    r = similarity(a, b, {"text_weight": 1.0, "entity_weight": 0.5})
    assert "entities" in r.missing
    assert r.score == pytest.approx(r.components["text"])


def test_set_cosine_and_settings_validation():
    assert set_cosine(frozenset("ab"), frozenset("bc")) == pytest.approx(0.5)
    assert set_cosine(frozenset(), frozenset("a")) == 0.0
    with pytest.raises(ConfigError):
        SimilaritySettings.from_dict({"text_low": 0.9, "text_high": 0.8})


def test_dataclass_defaults_match_shipped_settings():
    from dataclasses import fields

    from tidings.config import Settings

    shipped = Settings.load(env={}).section("similarity")
    assert set(shipped) == {f.name for f in fields(SimilaritySettings)}
    assert SimilaritySettings.from_dict(shipped) == SimilaritySettings()


def test_cross_lingual_offset_applies_only_across_languages():
    cfg = {"text_low": 0.5, "text_high": 1.0, "cross_lingual_offset": 0.05}
    a = feat([1, 0.5, 0], lang="en")
    same_lang = similarity(a, feat([1, 0, 0.5], lang="en"), cfg)
    other_lang = similarity(a, feat([1, 0, 0.5], lang="de"), cfg)
    undetermined = similarity(a, feat([1, 0, 0.5], lang="und"), cfg)
    assert other_lang.components["text"] == pytest.approx(same_lang.components["text"] + 0.1)
    assert undetermined.components["text"] == pytest.approx(same_lang.components["text"])
    assert other_lang.components["cosine"] == pytest.approx(same_lang.components["cosine"])
