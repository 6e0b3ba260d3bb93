"""Embedding a batch in the background while the next one is analysed changes nothing but time."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import numpy as np
import pytest

import tidings
from tidings.config import Settings
from tidings.models import Article, Document
from tidings.pipeline import Pipeline


class CountingEmbedder:
    """Deterministic vectors from the text; records which thread encoded which texts."""

    model_id = "counting-test"

    def __init__(self, parallel: int = 1) -> None:
        self.calls: list[tuple[str, list[str]]] = []
        self.parallel = parallel   # batches embed_ahead may run at once (an engine's streams)

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls.append((threading.current_thread().name, list(texts)))
        out = np.stack([np.random.default_rng(sum(map(ord, t))).normal(size=8) for t in texts])
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def _articles(n: int) -> list[Article]:
    when = datetime(2026, 3, 10, tzinfo=timezone.utc)
    return [Article(id=f"a{k}", source="t", title=f"Title {k}", text=f"Body of article {k}.", lang="en", lang_confidence=1.0,
                    published_at=when) for k in range(n)]


def _pipeline() -> tuple[Pipeline, CountingEmbedder]:
    pipeline = Pipeline(Settings.load(env={}))
    embedder = CountingEmbedder()
    pipeline._embedder = embedder
    return pipeline, embedder


def test_vectors_computed_ahead_equal_the_plain_ones_and_are_not_computed_twice():
    plain, _ = _pipeline()
    expected = _articles(5)
    plain.embed(expected)

    pipeline, embedder = _pipeline()
    got = _articles(5)
    future = pipeline.embed_ahead(got[:3])          # the first three in the background
    pipeline.embed(got, ahead=future)               # the other two now
    pipeline.close()
    for a, b in zip(got, expected):
        assert np.array_equal(a.embedding, b.embedding)
    threads = [name for name, _ in embedder.calls]
    assert threads[0].startswith("tidings-embed") and not threads[1].startswith("tidings-embed")
    encoded = [t for _, texts in embedder.calls for t in texts]
    assert len(encoded) == len(set(encoded)) == 5   # each text encoded exactly once


@pytest.mark.parametrize("parallel", [1, 2])
def test_ingest_in_small_batches_equals_one_batch(tmp_path, monkeypatch, parallel):
    """Monitor.add_documents in batches of 4 (background embedding between batches, two batches
    at once with an engine's streams) stores the same embeddings and the same stories as one
    batch of everything."""
    words = ["Harbour", "Election", "Flood"]
    docs = [Document(source=f"d{k}.txt", raw=b"", content_type="text", lang="en",
                     title=f"{words[k % 3]} news {k}", text=f"{words[k % 3]} report number {k}. " * 3,
                     published_at=datetime(2026, 3, 10, k, tzinfo=timezone.utc)) for k in range(10)]
    monkeypatch.setattr(Pipeline, "embedder", property(lambda self: self.__dict__.setdefault(
        "_counting", CountingEmbedder(parallel))))

    def stored(db, batch_size):
        with tidings.open(db) as monitor:
            report = monitor.add_documents(docs, batch_size=batch_size)
            assert len(report.added) == 10 and not report.errors
            return [tuple(r) for r in monitor.store.conn.execute(
                "SELECT id, story_id FROM articles ORDER BY id")]

    assert stored(tmp_path / "small.db", 4) == stored(tmp_path / "one.db", None)
