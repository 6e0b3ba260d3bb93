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
