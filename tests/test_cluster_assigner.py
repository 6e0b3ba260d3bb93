"""StoryAssigner behaviour on synthetic vectors: ids, determinism, time window, merges, state."""

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from tidings.errors import ConfigError

from tidings.cluster import Assignment, ClusterSettings, StoryAssigner, replay_clustering, story_id_for
from tidings.models import StoryFeatures

from conftest import topic_stream

T0 = datetime(2021, 7, 23, 12, tzinfo=timezone.utc)
DIM = 16
# Plain cosine scoring so the expected outcome can be read off the vectors.
PLAIN = {"center": False, "threshold": 0.8, "time_weight": 0.0, "entity_weight": 0.0,
         "merge_threshold": 1.0, "merge_cross_threshold": 1.0, "window_hours": 48.0,
         "max_span_hours": 48.0, "span_evidence": 0.5}


def unit(*pairs: tuple[int, float]) -> np.ndarray:
    v = np.zeros(DIM, np.float32)
    for i, x in pairs:
        v[i] = x
    return v / np.linalg.norm(v)


def feat(aid: str, vec: np.ndarray, hours: float = 0.0, lang: str = "en",
         entities: frozenset[str] = frozenset()) -> StoryFeatures:
    return StoryFeatures(article_id=aid, lang=lang, published_at=T0 + timedelta(hours=hours),
                         embedding=vec, entities=entities, title=aid)


def random_stream(n: int = 300, seed: int = 7) -> list[StoryFeatures]:
    """Noisy copies of a few topic vectors, in time order, several languages, some entities."""
    return topic_stream(n, seed, topics=8, langs=["en", "de", "fr"], minutes_apart=30, side_entities=5)


def test_first_article_sets_a_stable_story_id():
    a = StoryAssigner(PLAIN)
    first = a.assign(feat("art-1", unit((0, 1.0))))
    assert first.is_new and first.story_id == story_id_for("art-1")
    second = a.assign(feat("art-2", unit((0, 1.0), (1, 0.1)), hours=1))
    assert not second.is_new and second.story_id == first.story_id
    other = a.assign(feat("art-3", unit((5, 1.0)), hours=2))
    assert other.is_new and other.story_id == story_id_for("art-3")


def test_same_input_order_gives_identical_results():
    stream = random_stream()
    runs = []
    for _ in range(2):
        a = StoryAssigner({"merge_threshold": 0.6, "merge_cross_threshold": 0.5, "merge_interval_hours": 6})
        out = [(r.story_id, r.is_new, round(r.score, 6), tuple(r.merged)) for r in map(a.assign, stream)]
        runs.append((out, a.flush()))
    assert runs[0] == runs[1]
    assert len({s for s, *_ in runs[0][0]}) > 1


def test_no_story_spans_more_than_the_window_without_evidence():
    a = StoryAssigner(PLAIN)
    v = unit((0, 1.0))
    ids = [a.assign(feat(f"a{h}", v, hours=h)).story_id for h in range(0, 120, 6)]
    # identical vectors every 6 h: a story is cut once it would span more than max_span_hours
    spans: dict[str, list[int]] = {}
    for h, sid in zip(range(0, 120, 6), ids):
        spans.setdefault(sid, []).append(h)
    assert len(spans) >= 2
    assert all(max(hs) - min(hs) <= PLAIN["max_span_hours"] for hs in spans.values())


def test_entity_evidence_lets_a_story_continue_past_the_span():
    cfg = dict(PLAIN, idf_min_docs=1000, entity_saturation=1.0)
    a = StoryAssigner(cfg)
    v = unit((0, 1.0))
    people = frozenset({"Q1"})
    ids = {a.assign(feat(f"a{h}", v, hours=h, entities=people)).story_id for h in range(0, 120, 6)}
    assert len(ids) == 1


def test_gap_longer_than_window_starts_a_new_story():
    a = StoryAssigner(PLAIN)
    v = unit((0, 1.0))
    first = a.assign(feat("a", v)).story_id
    later = a.assign(feat("b", v, hours=PLAIN["window_hours"] + 1))
    assert later.is_new and later.story_id != first
    assert a.resolve(first) == first   # evicted stories stay resolvable


def test_delayed_merge_keeps_the_older_id():
    cfg = dict(PLAIN, threshold=0.95, merge_threshold=0.6, merge_interval_hours=100)
    a = StoryAssigner(cfg)
    old = a.assign(feat("old", unit((0, 1.0), (1, 0.6)))).story_id
    new = a.assign(feat("new", unit((0, 1.0), (2, 0.6)), hours=1)).story_id   # cos ~0.74: separate at once
    assert old != new
    merges = a.flush()
    assert merges == [(new, old)]
    assert a.resolve(new) == old and a.resolve(old) == old
    # a later article close to either side joins the surviving story
    assert a.assign(feat("later", unit((0, 1.0), (1, 0.3), (2, 0.3)), hours=2)).story_id == old


@pytest.mark.parametrize("weight, merged", [(0.0, False), (0.2, True)])
def test_shared_rare_names_let_two_stories_merge(weight, merged):
    # cos ~0.45 between the two stories: below the 0.6 merge threshold on its own; a person
    # both stories name in every article (and nobody else does) adds up to merge_entity_weight.
    cfg = dict(PLAIN, threshold=0.95, merge_threshold=0.6, merge_cross_threshold=0.6,
               merge_interval_hours=100, merge_entity_weight=weight, entity_saturation=1.0, idf_min_docs=1)
    a = StoryAssigner(cfg)
    name = frozenset({"per:rare"})
    s1 = a.assign(feat("p", unit((0, 1.0), (1, 1.0)), entities=name)).story_id
    s2 = a.assign(feat("q", unit((0, 1.0), (2, 1.2)), hours=1, lang="de", entities=name)).story_id
    for k in range(6):   # unrelated articles so the name is rare in the IDF window
        a.assign(feat(f"x{k}", unit((5 + k, 1.0)), hours=1.5))
    assert s1 != s2
    assert (a.flush() == [(s2, s1)]) is merged


def test_periodic_merge_is_reported_in_the_assignment():
    cfg = dict(PLAIN, threshold=0.95, merge_threshold=0.6, merge_interval_hours=2)
    a = StoryAssigner(cfg)
    s1 = a.assign(feat("p", unit((0, 1.0), (1, 0.6)))).story_id
    s2 = a.assign(feat("q", unit((0, 1.0), (2, 0.6)), hours=1)).story_id
    r = a.assign(feat("r", unit((9, 1.0)), hours=3))
    assert isinstance(r, Assignment) and r.merged == [(s2, s1)]


def test_dump_and_load_give_identical_further_assignments():
    stream = random_stream(240)
    settings = {"merge_threshold": 0.6, "merge_cross_threshold": 0.5, "merge_interval_hours": 6,
                "entity_weight": 0.1}
    a = StoryAssigner(settings)
    for f in stream[:150]:
        a.assign(f)
    a.flush()
    data = a.dump_state()
    b = StoryAssigner.load_state(data, settings)
    assert isinstance(data, bytes)
    rest_a = [(r.story_id, r.is_new, r.score, r.merged) for r in map(a.assign, stream[150:])]
    rest_b = [(r.story_id, r.is_new, r.score, r.merged) for r in map(b.assign, stream[150:])]
    assert rest_a == rest_b
    assert a.flush() == b.flush()
    assert b.dump_state() == a.dump_state()


def test_state_evicts_old_stories_but_keeps_aliases():
    cfg = dict(PLAIN, threshold=0.95, merge_threshold=0.6, merge_interval_hours=100)
    a = StoryAssigner(cfg)
    old = a.assign(feat("o1", unit((0, 1.0), (1, 0.6)))).story_id
    gone = a.assign(feat("o2", unit((0, 1.0), (2, 0.6)), hours=1)).story_id
    a.flush()
    for k in range(5):
        a.assign(feat(f"n{k}", unit((3 + k, 1.0)), hours=200 + k))
    assert a.active_count == 5
    b = StoryAssigner.load_state(a.dump_state(), cfg)
    assert b.active_count == 5
    assert b.resolve(gone) == old


def test_dimension_mismatch_is_an_error():
    a = StoryAssigner(PLAIN)
    a.assign(feat("a", unit((0, 1.0))))
    with pytest.raises(ValueError):
        a.assign(feat("b", np.ones(8, np.float32)))


def test_settings_from_dict_ignores_unknown_keys_and_casts():
    cfg = ClusterSettings.from_dict({"threshold": 1, "nonsense": 3})
    assert cfg.threshold == 1.0 and isinstance(cfg.threshold, float)


def test_replay_clustering_returns_resolved_ids_in_input_order():
    stream = random_stream(60)
    records = [{"published_at": f.published_at.isoformat(), "f": f} for f in stream]
    shuffled = records[::-1]
    pred = replay_clustering(shuffled, lambda i, r: r["f"], {"merge_threshold": 0.6})
    direct = replay_clustering(records, lambda i, r: r["f"], {"merge_threshold": 0.6})
    assert pred == direct[::-1]
    assert all(p.startswith("s") for p in pred)


def test_dataclass_defaults_match_shipped_settings():
    from dataclasses import fields

    from tidings.config import Settings

    shipped = Settings.load(env={}).section("cluster")
    assert set(shipped) == {f.name for f in fields(ClusterSettings)}
    assert ClusterSettings.from_dict(shipped) == ClusterSettings()


def test_small_disorder_is_tolerated():
    a = StoryAssigner(PLAIN)
    sid = a.assign(feat("a1", unit((0, 1.0)), hours=5)).story_id
    a.assign(feat("b1", unit((4, 1.0)), hours=6))
    late = a.assign(feat("a0", unit((0, 1.0), (1, 0.1)), hours=4))   # published before a1
    assert late.story_id == sid and not late.is_new


def test_merges_do_not_stretch_a_story_past_the_span():
    cfg = {"max_span_hours": 24.0, "span_evidence": 2.0, "merge_threshold": 0.3,
           "merge_cross_threshold": 0.3, "merge_interval_hours": 3.0, "threshold": 0.2}
    a = StoryAssigner(cfg)
    stream = random_stream(300)   # one article every 30 minutes over 150 hours
    raw = [(a.assign(f).story_id, f.published_at) for f in stream]
    a.flush()
    times: dict[str, list[datetime]] = {}
    for sid, t in raw:
        times.setdefault(a.resolve(sid), []).append(t)
    assert any(len(ts) > 5 for ts in times.values())
    longest = max((max(ts) - min(ts)).total_seconds() / 3600 for ts in times.values())
    assert longest <= cfg["max_span_hours"]


def test_invalid_settings_are_rejected():
    with pytest.raises(ConfigError):
        ClusterSettings.from_dict({"time_ref": "median"})
    with pytest.raises(ConfigError):
        StoryAssigner({"window_hours": 0})


# ---- articles of unknown time (hold / release) -------------------------------------------------
def test_a_held_article_joins_its_story_even_after_the_stream_left_it_behind():
    a = StoryAssigner(PLAIN)
    # dated ingest time months later: its time is unknown, not months later
    undated = feat("undated", unit((0, 1.0), (1, 0.05)), hours=24 * 200)
    a.hold(undated)
    first = a.assign(feat("quake-1", unit((0, 1.0)), hours=0))
    a.assign(feat("quake-2", unit((0, 1.0), (2, 0.1)), hours=5))
    a.assign(feat("other-1", unit((5, 1.0)), hours=100))     # quake stories evicted here (window 48 h)
    assert first.story_id not in {s for s in a._stories}
    placed = dict(a.release())
    assert placed["undated"].story_id == first.story_id and not placed["undated"].is_new
    assert a._now == (T0 + timedelta(hours=100)).timestamp()  # the held article did not move the clock


def test_a_held_article_without_a_match_starts_a_story_at_the_stream_time():
    a = StoryAssigner(PLAIN)
    a.assign(feat("quake-1", unit((0, 1.0)), hours=0))
    a.hold(feat("lonely", unit((7, 1.0)), hours=24 * 200))
    placed = dict(a.release())
    assert placed["lonely"].is_new and placed["lonely"].story_id == story_id_for("lonely")
    later = a.assign(feat("quake-2", unit((0, 1.0)), hours=3))   # the stream goes on where it was
    assert not later.is_new and later.story_id == story_id_for("quake-1")


def test_a_held_article_joins_an_active_story_without_moving_it_in_time():
    a = StoryAssigner(PLAIN)
    sid = a.assign(feat("quake-1", unit((0, 1.0)), hours=0)).story_id
    a.hold(feat("undated", unit((0, 1.0)), hours=24 * 200))
    assert dict(a.release())["undated"].story_id == sid
    st = a._stories[sid]
    assert st.n == 2 and st.last == st.first == T0.timestamp()
    assert a.release() == []
