"""gc.freeze once a language's models are loaded: after the ingest's first batch of a language,
once, never per batch (tidings.gcfreeze)."""

from __future__ import annotations

import gc
from datetime import datetime, timezone

import pytest

import tidings
from tidings import gcfreeze, ner
from tidings.config import Settings
from tidings.models import Document


@pytest.fixture
def fresh(monkeypatch):
    """A process that has seen no language yet; frozen objects are unfrozen afterwards."""
    monkeypatch.setattr(gcfreeze, "_seen", set())
    yield
    gc.unfreeze()


def test_a_new_language_freezes_once(fresh):
    before = gcfreeze.freezes()
    kept = [[] for _ in range(1000)]                  # alive, tracked: frozen by the freeze
    assert gcfreeze.loaded(["xx", "yy"]) is True
    assert gcfreeze.freezes() == before + 1
    assert gc.get_freeze_count() >= len(kept)
    assert gcfreeze.loaded(["xx"]) is False          # seen: nothing more to freeze
    assert gcfreeze.loaded(["yy", "", None]) is False
    assert gcfreeze.freezes() == before + 1
    assert gcfreeze.loaded(["zz"]) is True           # another language's models: one more
    assert gcfreeze.freezes() == before + 2


def test_garbage_is_collected_before_the_freeze(fresh):
    class Node:
        pass

    import weakref

    cycle = Node()
    cycle.self = cycle
    probe = weakref.ref(cycle)
    del cycle                                         # unreachable cycle: garbage at the freeze
    gcfreeze.loaded(["xx"])
    assert probe() is None                            # collected, not frozen


def _docs(n: int) -> list[Document]:
    when = datetime(2026, 3, 10, 12, tzinfo=timezone.utc)
    return [Document(source=f"gc-{k}", raw=b"", content_type="text", title=f"Floods in Zagreb, day {k}",
                     text=f"Heavy rain flooded Zagreb on day {k}. Mayor Tomislav Tomasevic said the river rose.",
                     lang="en", published_at=when) for k in range(n)]


def _ingest(tmp_path, monkeypatch, freeze: bool) -> list[tuple[bool, set[str]]]:
    """Ingest three batches of English; returns what each gcfreeze.loaded call answered and
    which recognisers were loaded at that moment."""
    gc.unfreeze()
    calls: list[tuple[bool, set[str]]] = []
    real = gcfreeze.loaded

    def spy(langs):
        answer = real(langs)
        calls.append((answer, set(ner._loaded)))
        return answer

    monkeypatch.setattr(gcfreeze, "loaded", spy)
    settings = Settings.load(env={"TIDINGS_INGEST__GC_FREEZE": "true" if freeze else "false"})
    with tidings.open(tmp_path / f"gc-{freeze}.db", settings=settings) as monitor:
        report = monitor.add_documents(_docs(6), batch_size=2)
    assert len(report.added) == 6
    return calls


def test_ingest_freezes_once_after_the_models_load(tmp_path, monkeypatch, fresh):
    before = gcfreeze.freezes()
    calls = _ingest(tmp_path, monkeypatch, True)
    assert [answer for answer, _ in calls] == [True, False, False]   # three batches, one language
    assert "en" in calls[0][1]                       # after the English recogniser loaded
    assert gcfreeze.freezes() == before + 1 and gc.get_freeze_count() > 0


def test_gc_freeze_false_never_arms(tmp_path, monkeypatch, fresh):
    before = gcfreeze.freezes()
    assert _ingest(tmp_path, monkeypatch, False) == []
    assert gcfreeze.freezes() == before
