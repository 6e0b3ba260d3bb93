"""`tidings check` sees a vector index out of step with the articles, and --repair rebuilds it."""

from __future__ import annotations

from tidings.maintenance import check
from tidings.search.vectors import StoreVectors


def test_check_reports_and_repairs_a_vector_index_out_of_step(seeds_monitor, tmp_path):
    import shutil

    from tidings.store import Store

    copy = tmp_path / "seeds.db"
    seeds_monitor.store.conn.execute("PRAGMA wal_checkpoint(FULL)")
    shutil.copy(seeds_monitor.store.path, copy)
    with Store.open(copy) as store:
        found = {f.name: f for f in check(store).findings}
        assert found["vector_index"].ok is False          # the copy has no index file beside it
        assert check(store, repair=True).ok
        status = StoreVectors(store, __import__("tidings.search", fromlist=["SearchSettings"]).SearchSettings()).status()
        assert status["in_step"] and status["indexed"] == status["articles_with_vectors"] == 2


def _seed_files(tmp_path):
    from conftest import need_shared

    seeds = sorted(p for p in need_shared("seeds").iterdir() if p.is_file())
    assert len(seeds) >= 2
    return seeds


def test_a_rerun_that_adds_nothing_brings_a_lagging_vector_index_up_to_date(tmp_path, monkeypatch):
    """A run killed after its last commit and before saving the vector index leaves the index
    behind the articles (`bench/crash.py` found one such round); the rerun skips every input, and
    must still bring the index up to date, so that `tidings check` is consistent again."""
    from datetime import datetime, timezone

    import tidings
    from tidings.pipeline import Monitor

    first, second = _seed_files(tmp_path)[:2]
    date = datetime(2016, 10, 28, tzinfo=timezone.utc)
    path = tmp_path / "lag.db"
    with tidings.open(path) as monitor:
        assert len(monitor.ingest([first], default_date=date).added) == 1
    with tidings.open(path) as monitor:   # "killed" after the commit, before the index is saved
        with monkeypatch.context() as patch:
            patch.setattr(Monitor, "update_vector_index", lambda self: None)
            assert len(monitor.ingest([second], default_date=date).added) == 1
        found = {f.name: f for f in check(monitor.store).findings}
        assert found["vector_index"].ok is False
    with tidings.open(path) as monitor:   # the rerun: everything stored already
        report = monitor.ingest([first, second], default_date=date)
        assert not report.added and report.already_stored == 2
        found = {f.name: f for f in check(monitor.store).findings}
        assert found["vector_index"].ok, found["vector_index"]
        assert check(monitor.store).ok


def test_a_run_that_adds_nothing_does_not_load_an_index_in_step(tmp_path, monkeypatch):
    """The check on an empty run is cheap: an index in step is not loaded."""
    from datetime import datetime, timezone

    import tidings
    from tidings.search import vectors

    first = _seed_files(tmp_path)[0]
    path = tmp_path / "quiet.db"
    date = datetime(2016, 10, 28, tzinfo=timezone.utc)
    with tidings.open(path) as monitor:
        monitor.ingest([first], default_date=date)
    loads = []
    real = vectors.UsearchIndex.load
    monkeypatch.setattr(vectors.UsearchIndex, "load", classmethod(lambda cls, *a, **k: loads.append(a) or real(*a, **k)))
    with tidings.open(path) as monitor:
        assert monitor.ingest([first], default_date=date).already_stored == 1
    assert loads == []


def test_an_index_file_newer_than_its_meta_is_rebuilt(seeds_monitor, tmp_path):
    """The index file and its meta are replaced one after the other; a kill between the two
    leaves an index holding vectors its meta does not count: it is rebuilt, not extended twice."""
    import json
    import shutil

    from tidings.search import SearchSettings
    from tidings.store import Store

    copy = tmp_path / "seeds.db"
    seeds_monitor.store.conn.execute("PRAGMA wal_checkpoint(FULL)")
    shutil.copy(seeds_monitor.store.path, copy)
    with Store.open(copy) as store:
        vectors = StoreVectors(store, SearchSettings()).rebuild()
        assert len(vectors.index) == 2
        meta = json.loads(vectors.meta_path.read_text())
        meta["count"], meta["last_rowid"] = 1, min(int(k) for k in vectors.index.index.keys)
        vectors.meta_path.write_text(json.dumps(meta))      # as if the kill came before the meta
        again = StoreVectors(store, SearchSettings()).ready()
        assert len(again.index) == 2 and again.status()["in_step"]
        assert check(store).ok
