"""The story assigner's state in the store: saved per batch as changed rows (schema 3), so a
reopened store continues a stream exactly as a process that never closed, and old stores that
hold one whole state blob still load."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np

from tidings.cluster import StoryAssigner
from tidings.models import Document, StoryFeatures
from tidings.store import Store

from conftest import topic_stream

T0 = datetime(2021, 7, 23, 12, tzinfo=timezone.utc)
DIM = 16
# merges, entities, places and a short window, so every part of the state is exercised
SETTINGS = {"merge_threshold": 0.6, "merge_cross_threshold": 0.5, "merge_interval_hours": 6,
            "entity_weight": 0.1, "place_weight": 0.1, "window_hours": 24.0, "max_span_hours": 20.0,
            "idf_window_hours": 12.0}


def stream(n: int = 400, seed: int = 3) -> list[StoryFeatures]:
    """Noisy copies of a few topic vectors, 20 minutes apart, several languages, entities, places."""
    return topic_stream(n, seed, topics=10, langs=["en", "de", "fr", "hr"], minutes_apart=20, side_entities=7,
                        with_places=True, dim=DIM)


def run_batch(assigner: StoryAssigner, batch: list[StoryFeatures]) -> list[tuple]:
    """What Monitor._process_batch does with the assigner: assign each article, then flush."""
    out = [(r.story_id, r.is_new, r.score, tuple(r.merged)) for r in map(assigner.assign, batch)]
    return out + [tuple(assigner.flush())]


def save(store: Store, assigner: StoryAssigner):
    """What Monitor._write_batch does with the state: write the changes in the batch's transaction."""
    changes = assigner.state_changes()
    with store.transaction():
        store.save_cluster_state(changes.core, full=changes.full, stories=changes.stories,
                                 dropped=changes.dropped, aliases=changes.aliases,
                                 df_items=changes.df_items, df_keep_from=changes.df_keep_from)
    return changes


def load(store: Store) -> StoryAssigner:
    return StoryAssigner.load_state(store.cluster_state(), SETTINGS, store.cluster_state_tables())


def batches(features: list[StoryFeatures], size: int = 16) -> list[list[StoryFeatures]]:
    return [features[i:i + size] for i in range(0, len(features), size)]


def test_a_reopened_store_continues_the_stream_identically(store_url):
    parts = batches(stream())
    never_closed = StoryAssigner(SETTINGS)
    expected = [run_batch(never_closed, b) for b in parts]
    assert any(out[-1] for out in expected), "the stream should exercise merges"

    path = store_url   # SQLite, then PostgreSQL
    got = []
    for k, batch in enumerate(parts):
        with Store.open(path) as store:   # a new process for every batch: close, reopen, load
            state = store.cluster_state()
            assigner = load(store) if state else StoryAssigner(SETTINGS)
            got.append(run_batch(assigner, batch))
            save(store, assigner)
    assert got == expected
    with Store.open(path) as store:
        reloaded = load(store)
    assert sorted(reloaded._stories) == sorted(never_closed._stories)
    assert sorted(reloaded._alias) == sorted(never_closed._alias)
    assert all(reloaded.resolve(a) == never_closed.resolve(a) for a in never_closed._alias)
    tail = stream(60, seed=9)
    shift = parts[-1][-1].published_at - T0 + timedelta(hours=1)
    tail = [StoryFeatures(f"t{k}", f.lang, f.published_at + shift, f.embedding, f.entities, f.places, f.title)
            for k, f in enumerate(tail)]
    assert run_batch(reloaded, tail) == run_batch(never_closed, tail)


def test_each_save_writes_only_what_the_batch_changed(store_url):
    parts = batches(stream(), size=8)
    assigner = StoryAssigner(SETTINGS)
    with Store.open(store_url) as store:
        run_batch(assigner, parts[0])
        assert save(store, assigner).full
        for batch in parts[1:]:
            merged = run_batch(assigner, batch)[-1]
            changes = save(store, assigner)
            assert not changes.full
            # a story changes when an article joins it or a story is merged into it
            assert len(changes.stories) <= len(batch) + len(merged)
            assert len(changes.df_items) == 2 * len(batch)
            rows = store.cluster_state_tables()
            assert sorted(r[0] for r in rows["stories"]) == sorted(assigner._stories)
            assert len(rows["aliases"]) == len(assigner._alias)
            assert len([r for r in rows["df"] if r[0] == "ent"]) == len(assigner._df_ent.items)
        # nothing changed: nothing but the core blob is written
        again = assigner.state_changes()
        assert (again.stories, again.dropped, again.aliases, again.df_items) == ([], [], [], [])


def test_a_store_holding_a_whole_state_blob_still_loads_and_is_split_on_the_next_save(store_url):
    parts = batches(stream(200))
    never_closed = StoryAssigner(SETTINGS)
    expected = [run_batch(never_closed, b) for b in parts]

    old_style = StoryAssigner(SETTINGS)
    for batch in parts[:5]:
        run_batch(old_style, batch)
    path = store_url
    with Store.open(path) as store:
        with store.transaction():   # how schema-2 stores saved it: one dump_state blob
            store.save_cluster_state(old_style.dump_state())
    with Store.open(path) as store:
        assigner = load(store)
        assert [run_batch(assigner, b) for b in parts[5:8]] == expected[5:8]
        assert save(store, assigner).full
    with Store.open(path) as store:
        assigner = load(store)
        assert [run_batch(assigner, b) for b in parts[8:]] == expected[8:]


def test_a_monitor_reopened_between_batches_gives_the_same_stories(tmp_path, monkeypatch):
    """The real Monitor path (dedup, store writes, state save and load), with embeddings made
    from the text so that no model is needed."""
    import tidings
    from tidings.pipeline import Pipeline

    def fake_embed(self, articles, store=None, ahead=None):
        for a in articles:
            rng = np.random.default_rng(sum(map(ord, a.title.split()[0])))
            v = rng.normal(size=DIM) + 0.3 * np.random.default_rng(len(a.text)).normal(size=DIM)
            a.embedding = (v / np.linalg.norm(v)).astype(np.float32)

    monkeypatch.setattr(Pipeline, "embed", fake_embed)
    monkeypatch.setattr(Pipeline, "embed_ahead", lambda self, articles, store=None: None)
    words = ["Harbour", "Election", "Flood", "Strike", "Summit"]
    docs = [Document(source=f"d{k}.txt", raw=b"", content_type="text", lang="en",
                     title=f"{words[k % 5]} news number {k}",
                     text=f"{words[k % 5]} report {k}: " + " ".join(f"w{(k * 7 + j) % 97}" for j in range(30)),
                     published_at=T0 + timedelta(hours=3 * k)) for k in range(24)]

    def stories(db, reopen: bool) -> list[str | None]:
        monitor = tidings.open(db)
        for k in range(0, len(docs), 6):
            if reopen:
                monitor.close()
                monitor = tidings.open(db)
            monitor.add_documents(docs[k:k + 6])
        rows = monitor.store.conn.execute("SELECT story_id FROM articles ORDER BY published_at").fetchall()
        monitor.close()
        return [r[0] for r in rows]

    once = stories(tmp_path / "once.db", reopen=False)
    assert len(set(once)) > 1
    assert stories(tmp_path / "reopened.db", reopen=True) == once
