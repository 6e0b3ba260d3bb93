"""ner.recognise_all: an article's text and its title in one recogniser call (spaCy's nlp.pipe),
the spans of recognise() on each; entities.analyse uses it for a title the text does not hold."""

from __future__ import annotations

import json

import pytest

from conftest import EXAMPLES
from tidings import entities, ner


def _articles(lang: str) -> list[tuple[str, str]]:
    out = []
    for line in (EXAMPLES / "articles.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record.get("lang") == lang and record.get("title") and record.get("text"):
            out.append((record["text"], record["title"]))
    return out


_PAIRS = {
    "en": [("The European Commission met in Brussels on Tuesday. Ursula von der Leyen spoke to Olaf Scholz "
            "about gas prices, while Emmanuel Macron stayed in Paris.", "EU leaders meet in Brussels over energy"),
           ("Dockworkers in Hamburg went on strike after talks with the port operator HHLA failed.",
            "Hamburg port strike: ver.di calls out dockworkers")],
    "fr": [("Le président Emmanuel Macron a rencontré Angela Merkel à Berlin mardi, avant un sommet de l'Union "
            "européenne à Bruxelles consacré à la Syrie.", "Macron et Merkel à Berlin avant le sommet de Bruxelles"),
           ("Un convoi humanitaire de l'ONU est entré dans Alep, selon le Croissant-Rouge syrien.",
            "Alep : un convoi de l'ONU entre dans la ville")],
    "es": [("El presidente Pedro Sánchez viajó a Valencia tras las inundaciones; la Generalitat pidió ayuda "
            "al Gobierno de España.", "Sánchez visita Valencia después de la DANA")],
}


@pytest.mark.parametrize("lang", sorted(_PAIRS))
def test_text_and_title_together_give_the_spans_of_each_alone(lang):
    pairs = _PAIRS[lang] + _articles(lang)
    calls = []
    rec = ner._get(ner._resolve(lang))
    real_many = rec.many
    rec.many = lambda texts: calls.append(len(texts)) or real_many(texts)
    try:
        for text, title in pairs:
            want = [ner.recognise(text, lang), ner.recognise(title, lang)]
            assert ner.recognise_all([text, title], lang) == want
    finally:
        rec.many = real_many
    assert calls == [2] * len(pairs)                  # one call of the recogniser per pair
    assert any(spans for text, title in pairs for spans in ner.recognise_all([text, title], lang))


def test_blank_texts_get_no_spans_and_no_call():
    assert ner.recognise_all(["", "   ", "\n"], "en") == [[], [], []]
    text = "Olaf Scholz spoke in Berlin."
    assert ner.recognise_all(["", text], "en") == [[], ner.recognise(text, "en")]


def test_a_recogniser_without_many_is_called_once_per_text(monkeypatch):
    """The fallback recogniser (Italian here) takes one text at a time."""
    key = ner._resolve("it")
    rec = ner._get(key)
    assert not hasattr(rec, "many")
    seen = []
    monkeypatch.setitem(ner._loaded, key, lambda text: seen.append(text) or rec(text))
    texts = ["Il presidente Sergio Mattarella ha incontrato Mario Draghi a Roma.", "", "Draghi a Roma"]
    got = ner.recognise_all(texts, "it")
    assert seen == [texts[0], texts[2]]
    assert got == [ner.recognise(texts[0], "it"), [], ner.recognise(texts[2], "it")] and got[0]


def test_analyse_recognises_a_separate_title_in_the_same_call(monkeypatch):
    calls = []
    real = entities._recognise_all
    monkeypatch.setattr(entities, "_recognise_all", lambda texts, lang: calls.append(list(texts)) or real(texts, lang))
    text = "Dockworkers in Hamburg went on strike after talks with the port operator failed."
    analysis = entities.analyse(text, "en", title="Olaf Scholz visits Hamburg port")
    assert calls == [[text, "Olaf Scholz visits Hamburg port"]]
    assert any(m.in_title for m in analysis.mentions) and any(not m.in_title for m in analysis.mentions)
    calls.clear()
    entities.analyse(text, "en", title="Dockworkers in Hamburg")   # the title opens the text: not again
    assert calls == [[text, ""]]
