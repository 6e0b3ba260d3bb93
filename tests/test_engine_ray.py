"""The Ray engine (``ingest --engine ray``, issue #16 point 3) on a real local Ray: the same
articles, entities, dates, embeddings and stories as the local engine, with the analysis and
the embedding done by the actors, not by this process."""

from __future__ import annotations

import io
import sys
from datetime import datetime, timezone

import numpy as np
import pytest
from typer.testing import CliRunner

import tidings
from tidings.cli import app
from tidings.config import Settings
from tidings.errors import ConfigError, InputError
from tidings.ingest import read_sources
from tidings.pipeline import Pipeline

from conftest import EXAMPLES

runner = CliRunner()
# the publication date of inputs that carry none (else: the time each run prepared them)
UNDATED = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray for the module: 2 CPUs, loopback only, stopped afterwards."""
    from tidings.engine.ray import import_ray, start_local_ray

    ray = import_ray()
    start_local_ray(num_cpus=2)   # ray.init(num_cpus=2, ...), see tidings.engine.ray
    yield ray
    ray.shutdown()


def _inputs(tmp_path):
    bad = tmp_path / "broken.txt"
    bad.write_bytes(b"\x00\x01\x02binary" * 50)
    return [EXAMPLES, bad]


def _contents(monitor) -> dict:
    """What a reader sees of a store: article ids, the stories as sets of article ids, each
    article's language, text, mentions (entity ids, offsets), dates and quotes, the vectors."""
    from tidings.queries import load_article

    out = io.StringIO()
    monitor.export("csv", out)
    rows = [line.split(",")[:2] for line in out.getvalue().splitlines()[1:]]
    ids = sorted(article_id for article_id, _ in rows)
    stories: dict[str, set[str]] = {}
    articles = {}
    for article_id in ids:
        detail = monitor.article(article_id)
        if detail["story_id"]:
            stories.setdefault(detail["story_id"], set()).add(article_id)
        articles[article_id] = {k: v for k, v in detail.items() if k not in {"story_id", "ingested_at"}}
    unique = [load_article(monitor.store, i) for i in ids if not articles[i]["duplicate_of"]]
    _, keys = monitor.pipeline._keys(unique)
    vectors = monitor.store.cached_embeddings(keys)
    return {"ids": ids, "stories": sorted(sorted(s) for s in stories.values()), "articles": articles,
            "vectors": [vectors[k] for k in keys]}


def test_the_ray_engine_gives_the_same_stories_entities_and_dates_as_the_local_engine(
        local_ray, tmp_path, monkeypatch):
    local = tidings.open(tmp_path / "local.db", settings=Settings.load(env={}))
    with local:
        report = local.ingest(_inputs(tmp_path), default_date=UNDATED)
        expected = _contents(local)
    assert len(report.added) > 30 and len(report.duplicates) == 2 and len(report.errors) == 1

    # this process neither decodes, analyses nor embeds on the Ray engine: the actors do it all
    # (text and HTML files travel as their raw bytes; the binary file's error comes from an actor)
    def not_here(*args, **kwargs):
        raise AssertionError("decoded, prepared or embedded in the driver, not on Ray")

    monkeypatch.setattr(Pipeline, "prepare", not_here)
    monkeypatch.setattr("tidings.embed.Embedder.embed", not_here)
    monkeypatch.setattr("tidings.ingest._text_document", not_here)
    monkeypatch.setattr("tidings.ingest._html_document", not_here)
    # batches of 3 documents: both actors get work, and finish in any order
    settings = Settings.load(env={}, overrides={"ingest": {"engine": "ray", "workers": 2, "ray_batch_size": 3}})
    ray_monitor = tidings.open(tmp_path / "ray.db", settings=settings)
    with ray_monitor:
        ray_report = ray_monitor.ingest(_inputs(tmp_path), default_date=UNDATED)
        assert ray_monitor.engine.name == "ray" and len(ray_monitor.engine._actors) == 2
        got = _contents(ray_monitor)
        actors = list(ray_monitor.engine._actors)
        # a second run reuses the actors (models loaded once)
        again = ray_monitor.ingest([EXAMPLES / "en_hamburg_strike.txt"])
        assert ray_monitor.engine._actors == actors
        # the engine alone: results in input order, an input's error in its place, vectors attached
        items = list(read_sources([EXAMPLES / "articles.jsonl"], settings.section("ingest")))
        items.insert(3, InputError("unreadable", source="x.txt"))
        prepared = list(ray_monitor.engine.prepare(items))
    assert again.already_stored == 1 and not again.added
    assert [item for item, _ in prepared] == items and prepared[3][1] is items[3]
    done = [(item, a) for item, a in prepared if not isinstance(a, InputError)]
    assert len(done) == len(items) - 1 > 5
    assert all(a.source == item.source and a.id in expected["ids"] for item, a in done)
    assert all(a.embedding.shape == (384,) for _, a in done)
    assert local_ray.is_initialized()   # a Ray the engine did not start is left running

    assert ray_report.as_dict() == report.as_dict()       # counts, and the binary file's error, in place
    assert [str(e) for e in ray_report.errors] == [str(e) for e in report.errors]
    assert got["ids"] == expected["ids"]
    assert got["stories"] == expected["stories"] and len(got["stories"]) > 10
    differing = [i for i in got["ids"] if got["articles"][i] != expected["articles"][i]]
    assert not differing, [(got["articles"][i], expected["articles"][i]) for i in differing[:1]]
    assert sum(len(a["mentions"]) for a in got["articles"].values()) > 100
    assert sum(len(a["dates"]) for a in got["articles"].values()) > 20
    # the same model on each side; ONNX Runtime's sums may run in another order with another thread
    # count (an actor has one CPU), so equal up to float rounding, not bit for bit
    assert all(np.allclose(a, b, atol=1e-4) for a, b in zip(got["vectors"], expected["vectors"]))
    assert len(got["vectors"]) == len(expected["vectors"]) == len(report.added)


def test_engine_ray_without_ray_installed_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)   # import ray -> ImportError
    result = runner.invoke(app, ["--db", str(tmp_path / "t.db"), "ingest", "--engine", "ray",
                                 str(EXAMPLES / "en_hamburg_strike.txt")])
    error = result.exception
    assert isinstance(error, ConfigError) and error.code == "T400"
    assert "Ray is not installed" in str(error) and "pip install" in str(error)


@pytest.mark.parametrize("args, message", [
    (["--engine", "spark"], "--engine: unknown engine 'spark'"),
    (["--engine", "local", "--ray-address", "auto"], "--ray-address is for --engine ray"),
])
def test_engine_options_are_checked(tmp_path, args, message):
    result = runner.invoke(app, ["--db", str(tmp_path / "t.db"), "ingest", *args, str(EXAMPLES / "feed.xml")])
    assert isinstance(result.exception, ConfigError) and message in str(result.exception)


def test_an_unknown_engine_setting_is_a_clear_settings_error(tmp_path):
    settings = Settings.load(env={}, overrides={"ingest": {"engine": "dask"}})
    with tidings.open(tmp_path / "t.db", settings=settings) as monitor:
        with pytest.raises(ConfigError, match="ingest.engine: unknown engine 'dask'"):
            monitor.ingest([EXAMPLES / "feed.xml"])


def test_an_unreachable_ray_address_is_a_clear_error_at_once():
    import socket
    import time

    from tidings.engine.ray import RayEngine, import_ray

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]    # closed once the block ends: nobody listens there
    settings = Settings.load(env={}, overrides={"ingest": {"engine": "ray", "ray_address": f"127.0.0.1:{port}"}})
    engine = RayEngine(settings, Pipeline(settings))
    started = time.monotonic()
    with pytest.raises(ConfigError, match=f"ingest.ray_address: cannot connect to the Ray cluster at 127.0.0.1:{port}"):
        engine._connect(import_ray())
    assert time.monotonic() - started < 5
