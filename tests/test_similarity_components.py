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


# ---- language-centred text part (issue #4) -----------------------------------------------------
def _corpus(rng, n=240, dim=16):
    """Embeddings with a large shared 'news' direction plus a per-language offset, as e5 gives."""
    common = np.zeros(dim)
    common[0] = 6.0
    offsets = {"en": np.eye(dim)[1] * 1.5, "de": np.eye(dim)[2] * 1.5}
    vecs, langs = [], []
    for i in range(n):
        lang = "en" if i % 2 else "de"
        v = common + offsets[lang] + 0.5 * rng.normal(size=dim)
        vecs.append(v / np.linalg.norm(v))
        langs.append(lang)
    return vecs, langs


def test_centres_shrink_towards_global_mean_and_cover_unseen_languages():
    from tidings.similarity import LanguageCentres

    vecs = [np.array([1.0, 0.0]), np.array([1.0, 0.0]), np.array([0.0, 1.0])]
    c0 = LanguageCentres.fit(vecs, ["en", "en", "de"], lang_prior=0.0)
    assert np.allclose(c0.centre("en"), [1.0, 0.0]) and np.allclose(c0.centre("de"), [0.0, 1.0])
    assert np.allclose(c0.centre("fi"), [2 / 3, 1 / 3])            # unseen: all-language mean
    c_big = LanguageCentres.fit(vecs, ["en", "en", "de"], lang_prior=1e6)
    assert np.allclose(c_big.centre("de"), c_big.global_mean, atol=1e-5)
    assert LanguageCentres.fit([], []) is None


def test_centred_score_is_symmetric_bounded_and_max_for_identical():
    from tidings.similarity import LanguageCentres

    rng = np.random.default_rng(7)
    vecs, langs = _corpus(rng)
    centres = LanguageCentres.fit(vecs, langs)
    feats = [StoryFeatures(article_id=str(i), lang=lang, published_at=T0, embedding=v)
             for i, (v, lang) in enumerate(zip(vecs, langs))]
    for i in range(0, 40, 3):
        a, b = feats[i], feats[i + 1]
        ab = similarity(a, b, centres=centres)
        assert ab.score == pytest.approx(similarity(b, a, centres=centres).score)
        assert 0.0 <= ab.score <= 1.0 and "centred_cosine" in ab.components
        assert similarity(a, a, centres=centres).score == pytest.approx(1.0)


def test_centring_separates_related_from_unrelated_where_raw_cosine_cannot():
    """Unrelated pairs sit at raw cosine ~0.9 (shared direction): the raw mapping scores them
    ~0.5, the centred one ~0.1, while near-copies stay near 1 in both."""
    from tidings.similarity import LanguageCentres

    rng = np.random.default_rng(11)
    vecs, langs = _corpus(rng, n=300)
    centres = LanguageCentres.fit(vecs, langs)
    cfg = SimilaritySettings()
    related, unrelated, unrelated_raw = [], [], []
    for i in range(0, 100, 2):
        a = StoryFeatures(article_id="a", lang=langs[i], published_at=T0, embedding=vecs[i])
        v = vecs[i] + 0.02 * rng.normal(size=len(vecs[i]))        # a rewrite of the same story
        twin = StoryFeatures(article_id="t", lang=langs[i], published_at=T0, embedding=v / np.linalg.norm(v))
        other = StoryFeatures(article_id="o", lang=langs[i + 100], published_at=T0, embedding=vecs[i + 100])
        related.append(similarity(a, twin, cfg, centres=centres).score)
        unrelated.append(similarity(a, other, cfg, centres=centres).score)
        unrelated_raw.append(similarity(a, other, cfg).score)
    assert min(related) > 0.8
    assert np.mean(unrelated) < 0.2 < 0.4 < np.mean(unrelated_raw)
    assert np.mean(related) - np.mean(unrelated) > 0.7


def test_without_centres_or_with_centre_off_the_raw_mapping_is_used():
    from tidings.similarity import LanguageCentres

    a = feat([1, 0.3, 0.1])
    b = feat([1, 0.1, 0.3])
    centres = LanguageCentres.fit([a.embedding, b.embedding, feat([0, 1, 0]).embedding], ["en"] * 3)
    plain = similarity(a, b)
    off = similarity(a, b, {"centre": False}, centres=centres)
    assert "centred_cosine" not in plain.components
    assert off.score == pytest.approx(plain.score)
    centred = similarity(a, b, {"centre_min_articles": 3}, centres=centres)
    assert centred.components["centred_cosine"] != pytest.approx(plain.components["cosine"])


def test_fitted_weights_load_from_settings_and_are_used():
    """The two fitted weights of the centred mapping come from settings.toml and change the score."""
    from tidings.config import Settings
    from tidings.similarity import LanguageCentres

    shipped = SimilaritySettings.from_dict(Settings.load(env={}).section("similarity"))
    assert shipped.centre and shipped.centred_low < shipped.centred_high
    rng = np.random.default_rng(5)
    vecs, langs = _corpus(rng)
    centres = LanguageCentres.fit(vecs, langs)
    a = StoryFeatures(article_id="a", lang="en", published_at=T0, embedding=vecs[1])
    b = StoryFeatures(article_id="b", lang="de", published_at=T0, embedding=vecs[1] * 0.7 + vecs[2] * 0.3)
    r = similarity(a, b, shipped, centres=centres)
    expected = (r.components["centred_cosine"] + shipped.centred_cross_offset - shipped.centred_low) / (
        shipped.centred_high - shipped.centred_low)
    assert r.components["text"] == pytest.approx(min(1.0, max(0.0, expected)))
    moved = similarity(a, b, {"centred_cross_offset": shipped.centred_cross_offset + 0.1}, centres=centres)
    assert moved.components["text"] >= r.components["text"]
    with pytest.raises(ConfigError):
        SimilaritySettings.from_dict({"centred_low": 1.0, "centred_high": 0.5})
    with pytest.raises(ConfigError):
        SimilaritySettings.from_dict({"centre_lang_prior": -1})


def test_centres_from_a_trained_assigner():
    from tidings.cluster import StoryAssigner
    from tidings.similarity import LanguageCentres

    assert LanguageCentres.from_assigner(StoryAssigner()) is None      # empty store: no centres
    rng = np.random.default_rng(2)
    vecs, langs = _corpus(rng, n=30)
    assigner = StoryAssigner()
    for i, (v, lang) in enumerate(zip(vecs, langs)):
        assigner.assign(StoryFeatures(article_id=str(i), lang=lang, published_at=T0 + timedelta(minutes=i),
                                      embedding=v.astype(np.float32)))
    centres = LanguageCentres.from_assigner(assigner, lang_prior=0.0)
    assert centres is not None
    en = np.mean([v for v, lang in zip(vecs, langs) if lang == "en"], axis=0)
    assert np.allclose(centres.centre("en") / np.linalg.norm(centres.centre("en")), en / np.linalg.norm(en), atol=1e-3)


def test_a_few_articles_are_not_enough_to_centre():
    """Two near-copies centred on their own mean would point in opposite directions (score 0):
    below centre_min_articles the raw mapping is used."""
    from tidings.similarity import LanguageCentres

    a = feat([1, 0.30, 0.10])
    b = feat([1, 0.31, 0.10])
    tiny = LanguageCentres.fit([a.embedding, b.embedding], ["en", "en"], lang_prior=0.0)
    r = similarity(a, b, centres=tiny)
    assert "centred_cosine" not in r.components and r.score > 0.9
    forced = similarity(a, b, {"centre_min_articles": 1}, centres=tiny)
    assert forced.components["centred_cosine"] == 0.0 and forced.score == 0.0


def test_evaluate_similarity_scores_through_the_pipeline_with_centres(tmp_path):
    """A tiny pairs file through the real pipeline: the same-story pairs rank above the others,
    and mono-/cross-lingual figures are reported apart."""
    import json

    from tidings.config import Settings
    from tidings.evaluate import evaluate_similarity

    quake_en = "Earthquake hits Izmir\nA strong earthquake struck the Turkish city of Izmir on Friday, killing 25 people."
    quake_de = "Erdbeben erschüttert Izmir\nEin starkes Erdbeben hat am Freitag die türkische Stadt Izmir getroffen, 25 Tote."
    quake_en2 = "Izmir quake death toll rises\nRescuers in Izmir, Turkey, pulled survivors from rubble after Friday's earthquake."
    vote_en = "Parliament passes budget\nLawmakers in Canberra approved the federal budget after a long night debate."
    vote_de = "Bundestag beschließt Haushalt\nDer Bundestag in Berlin hat den Haushalt für das kommende Jahr verabschiedet."
    rows = [(quake_en, quake_en2, "en", "en", 1.0), (quake_en, vote_en, "en", "en", 4.0),
            (quake_en, quake_de, "en", "de", 1.0), (quake_de, vote_en, "de", "en", 4.0),
            (vote_en, vote_de, "en", "de", 3.0), (quake_en2, vote_de, "en", "de", 4.0)]
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps({"text1": a, "text2": b, "lang1": la, "lang2": lb, "overall": o}) + "\n"
                            for a, b, la, lb, o in rows), encoding="utf-8")
    settings = Settings.load(env={}, overrides={"similarity": {"centre_min_articles": 4}})
    report = evaluate_similarity(path, settings, embedding_cache=tmp_path / "cache.db")
    assert report["pairs"] == 6
    assert report["monolingual"]["n"] == 2 and report["crosslingual"]["n"] == 4
    assert report["all"]["pearson"] > 0.5
    again = evaluate_similarity(path, settings, embedding_cache=tmp_path / "cache.db")   # cached vectors
    assert again["all"]["pearson"] == pytest.approx(report["all"]["pearson"], abs=1e-6)
