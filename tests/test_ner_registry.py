"""The recogniser registry: lookup by language, group and fallback; user and entry-point
recognisers; spans cleaned to the public contract."""

import pytest

from tidings import ner
from tidings.models import Span


@pytest.fixture
def restore_registry():
    saved = (dict(ner._factories), set(ner._builtin), dict(ner._loaded), ner._entry_points_done)
    yield
    ner._factories.clear(); ner._factories.update(saved[0])
    ner._builtin.clear(); ner._builtin.update(saved[1])
    ner._loaded.clear(); ner._loaded.update(saved[2])
    ner._entry_points_done = saved[3]


def test_lookup_falls_back_by_group_then_generic():
    assert ner._resolve("en") == "en"
    assert ner._resolve("pt-BR") == "pt"
    assert ner._resolve("sr") == "hbs"
    assert ner._resolve("bs") == "hbs"
    assert ner._resolve("it") == ner.FALLBACK
    assert ner._resolve("") == ner.FALLBACK
    names = ner.available()
    assert names["hr"].endswith("(via hbs)")
    assert ner.FALLBACK in names and "en" in names


def test_user_recogniser_is_lazy_used_and_cleaned(restore_registry):
    calls = []

    def factory():
        calls.append(1)
        # Unsorted, overlapping, with a MISC span and padding: recognise() must clean them.
        return lambda text: [Span(10, 15, "LOC", text[10:15]), Span(0, 5, "PER", text[0:5]),
                             Span(2, 8, "ORG", text[2:8]), Span(16, 20, "MISC", text[16:20])]

    ner.register_recogniser("xx", factory)
    assert calls == []
    assert ner.available()["xx"] == factory.__qualname__
    text = "Alice met  Paris Expo"
    spans = ner.recognise(text, "xx")
    spans_again = ner.recognise(text, "xx-YY")
    assert calls == [1], "factory must be called once"
    assert spans == spans_again
    # PER kept; ORG overlaps it and goes; the LOC span loses its leading space; MISC dropped.
    assert [(s.start, s.end, s.label, s.text) for s in spans] == [(0, 5, "PER", "Alice"), (11, 15, "LOC", "Pari")]


def test_entry_points_are_discovered(restore_registry, monkeypatch):
    class FakeEP:
        name = "qq"
        value = "somepkg:make"

        def load(self):
            return lambda: (lambda text: [Span(0, len(text), "ORG", text)])

    import importlib.metadata

    monkeypatch.setattr(importlib.metadata, "entry_points",
                        lambda group=None: [FakeEP()] if group == ner.ENTRY_POINT_GROUP else [])
    ner._entry_points_done = False
    assert ner.available()["qq"] == "entry point somepkg:make"
    assert [(s.label, s.text) for s in ner.recognise("Acme", "qq")] == [("ORG", "Acme")]


def test_empty_text_gives_no_spans():
    assert ner.recognise("", "hr") == []
    assert ner.recognise("   \n", "en") == []
