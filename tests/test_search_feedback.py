"""Pseudo-relevance feedback on time and stories (tidings/search/feedback.py).

The functions on constructed inputs, then a real store (the pipeline, e5, usearch) holding two
events with near-identical titles six months apart: the query's best match dates its event, and
the other-language articles of that event come before the other event's."""

from __future__ import annotations

import json

import pytest

from tidings.config import Settings
from tidings.errors import ConfigError
from tidings.search import SearchSettings, search
from tidings.search.feedback import days, temporal_profile, time_prior


def test_days_reads_iso_timestamps_as_utc():
    assert days("1970-01-02T00:00:00Z") == 1.0
    assert days("1970-01-02T12:00:00") == 1.5              # no zone: UTC
    assert days("1970-01-02T02:00:00+02:00") == 1.0
    assert days(None) is None and days("") is None and days("yesterday") is None


def test_temporal_profile_peaks_at_the_heads_weighted_by_rank():
    density = temporal_profile([10.0, 30.0, None], scale_days=1.0)
    assert density(10.0) > density(30.0) > density(20.0) > 0    # first head weighs 1, second 1/2
    assert density(10.0) == pytest.approx((1 + 0.5 * 2.718281828 ** -20) / 1.5)
    assert density(10.0) <= 1.0
    assert temporal_profile([None], 1.0) is None and temporal_profile([10.0], 0.0) is None


def test_time_prior_reorders_by_closeness_to_the_heads():
    fused = [(1, 1.0), (2, 0.9), (3, 0.8), (4, 0.7)]
    when = {1: 100.0, 2: 10.0, 3: 10.5, 4: None}
    reranked = time_prior(fused, when, [10.0], scale_days=2.0, floor=0.1)
    assert [item for item, _ in reranked][:2] == [2, 3]         # near the head's date first
    assert reranked[-1][0] == 1                                  # 90 days away: floor only
    factors = {item: score / dict(fused)[item] for item, score in reranked}
    assert factors[4] == pytest.approx((factors[1] + factors[2] + factors[3]) / 3)   # undated: the mean factor
    assert time_prior(fused, when, [None], 2.0, 0.1) == fused   # no dated head: unchanged
    assert time_prior([], when, [10.0], 2.0, 0.1) == []


def test_feedback_settings_are_checked():
    with pytest.raises(ConfigError, match="feedback_scope"):
        SearchSettings.from_dict({"feedback_scope": "everywhere"})
    with pytest.raises(ConfigError, match="must not be negative"):
        SearchSettings.from_dict({"time_floor": -1})


# Two fires in one market hall, March and September: in each language the September titles are
# the closer to the query's words, so meaning alone puts the wrong event first.
EVENTS = [
    ("m-en", "en", "2021-03-01T08:00:00Z", "Fire destroys the old market hall in Split"),
    ("m-de", "de", "2021-03-01T10:00:00Z", "Großbrand in Split: historische Markthalle in Flammen"),
    ("m-fr", "fr", "2021-03-01T11:00:00Z", "Split : la vieille halle du marché ravagée par les flammes"),
    ("s-en", "en", "2021-09-15T08:00:00Z", "Another blaze hits the market hall in Split"),
    ("s-de", "de", "2021-09-15T10:00:00Z", "Feuer zerstört die alte Markthalle in Split"),
    ("s-fr", "fr", "2021-09-15T11:00:00Z", "Un incendie détruit la vieille halle du marché de Split"),
]
QUERY = "Fire destroys the old market hall in Split"


@pytest.fixture(scope="module")
def fires(tmp_path_factory):
    from tidings.evaluate import _gold_records, replay_gold

    tmp = tmp_path_factory.mktemp("fires")
    gold = tmp / "fires.jsonl"
    gold.write_text("".join(json.dumps({"id": i, "lang": lang, "published_at": t, "title": title, "cluster": i[0]})
                            + "\n" for i, lang, t, title in EVENTS), encoding="utf-8")
    monitor = replay_gold(_gold_records(gold, None), gold, tmp / "fires.db", Settings.load(env={}))
    yield monitor
    monitor.close()


def _ranked(monitor, **search_settings) -> list[str]:
    settings = Settings.load(env={}, overrides={"search": search_settings})
    ids = dict(monitor.store.conn.execute("SELECT rowid, external_id FROM articles"))
    result = search(monitor.store, QUERY, settings=settings, exclude_lang="en", embedder=monitor.pipeline.embedder)
    return [ids[rowid] for rowid in result.rankings["fused"]]


def test_the_best_match_dates_the_event_across_languages(fires):
    # no feedback: the September articles, closer in wording, come first
    without = _ranked(fires, feedback_hits=0, story_weight=0.0)
    assert without[0].startswith("s-")
    # feedback from the whole store: the query's best match is the March English article (the
    # English ones are not searched, only read as feedback); March's German and French follow it
    with_time = _ranked(fires, feedback_hits=1, story_weight=0.0, feedback_scope="store")
    assert set(with_time[:2]) == {"m-de", "m-fr"}
    # feedback from the results only (German and French): the wrong event dates itself
    results_only = _ranked(fires, feedback_hits=1, story_weight=0.0, feedback_scope="results")
    assert results_only[0].startswith("s-")
    # the shipped settings (three heads, their stories expanded) find March first too
    assert set(_ranked(fires)[:2]) == {"m-de", "m-fr"}
