"""Serbian Cyrillic goes through the Latin model with offsets mapped back; the fallback
handles German; Portuguese contractions and Chinese characters are tokenised as in training;
span clean-up shared by every language (possessives, regnal numbers, pairs of states)."""

import re

import pytest

from tidings import crf, ner


def test_serbian_cyrillic_offsets_point_into_the_original_text():
    text = "Председник Србије Александар Вучић састао се у Београду са Владимиром Путином."
    spans = ner.recognise(text, "sr")
    assert spans, "no names found"
    for sp in spans:
        assert text[sp.start:sp.end] == sp.text
        assert all("\u0400" <= ch <= "\u04ff" or not ch.isalpha() for ch in sp.text)
    found = {sp.text: sp.label for sp in spans}
    assert found.get("Београду") == "LOC", found
    assert any("Путин" in t and lab == "PER" for t, lab in found.items()), found


def test_transliteration_keeps_one_offset_per_latin_letter():
    latin, origin = ner.to_latin_with_offsets("Љубљана, Џаја")
    assert latin == "Ljubljana, Džaja"
    assert len(origin) == len(latin)
    assert origin[:3] == [0, 0, 1] and origin[-5:] == [9, 9, 10, 11, 12]


def test_fallback_on_a_german_sentence():
    text = ("Bundeskanzlerin Angela Merkel hat am Montag in Berlin mit dem französischen "
            "Präsidenten Emmanuel Macron über die Lage in Syrien gesprochen.")
    spans = ner.recognise(text, "de")
    found = {sp.text: sp.label for sp in spans}
    assert found.get("Angela Merkel") == "PER", found
    assert found.get("Emmanuel Macron") == "PER", found
    assert found.get("Berlin") == "LOC" and found.get("Syrien") == "LOC", found
    assert "Montag" not in found and "Lage" not in found, found


def test_german_fallback_takes_a_word_no_german_dictionary_knows_for_a_name():
    text = ("Laut der Statistikbehörde wollte Tarlo am Freitag nach Moskau reisen. Die Reise von "
            "Tarlo in die Hauptstadt wurde verschoben.")
    found = [(sp.text, sp.label) for sp in ner.recognise(text, "de")]
    assert found.count(("Tarlo", "PER")) == 2, found          # unknown to German, not a compound
    assert ("Moskau", "LOC") in found, found
    assert not any(t in ("Statistikbehörde", "Freitag", "Reise", "Hauptstadt") for t, _ in found), found


def test_fallback_takes_the_label_other_languages_training_data_give_a_name():
    assert ner.known_names()["tesco"] == "ORG" and ner.known_names()["clinton"] == "PER"
    text = "Die Kette Tesco verhandelt weiter. In der ganzen Welt und in Europa."
    found = {(sp.text, sp.label) for sp in ner.recognise(text, "de")}
    assert ("Tesco", "ORG") in found, found                 # the foreign-word rule alone says PER
    assert ("Europa", "LOC") in found, found
    assert not any(t == "Welt" for t, _ in found), found    # the world is no place name, nor a newspaper here
    bare = ner.FallbackRecogniser("de")
    bare.known_names = {}
    assert ("Tesco", "PER") in {(sp.text, sp.label) for sp in bare(text)}
    # Names German's dictionary lists without any inflected form are still names; an article
    # does not start one.
    text = "Clinton traf Vertreter von Apple in Texas. Der Sprecher der Republikanischen Partei schwieg."
    found = {(sp.text, sp.label) for sp in ner.recognise(text, "de")}
    assert found == {("Clinton", "PER"), ("Apple", "ORG"), ("Texas", "LOC"), ("Republikanischen Partei", "ORG")}
    assert bare._inflecting_noun("Welt") and bare._inflecting_noun("Bank") and not bare._inflecting_noun("Clinton")
    # Three capitalised words are a German noun and a name only if the first is a German word.
    found = {(sp.text, sp.label) for sp in ner.recognise("Laut der Consumer Technology Association wuchs der Markt.", "de")}
    assert found == {("Consumer Technology Association", "ORG")}
    # German genitives of names: a lent name and the surname of a full name in the document.
    text = "Angela Merkel sprach. Merkels Sprecher und ein Berater Clintons schwiegen."
    found = {(sp.text, sp.label) for sp in ner.recognise(text, "de")}
    assert found == {("Angela Merkel", "PER"), ("Merkels", "PER"), ("Clintons", "PER")}


def test_fallback_acronyms_in_compounds_and_what_is_no_name():
    text = "Laut einer Studie durch die UN sprach ein CNN-Reporter von 2 °C mehr und 5 GBP Kosten."
    found = {(sp.text, sp.label) for sp in ner.recognise(text, "de")}
    assert ("UN", "ORG") in found, found            # no function word "un"
    assert ("CNN", "ORG") in found, found           # the acronym leading a compound
    assert not any(t in ("C", "GBP", "CNN-Reporter") for t, _ in found), found   # a letter, a currency code


def test_fallback_joins_particles_and_labels_organisations():
    rec = ner.FallbackRecogniser("it")
    text = "Ieri Staffan de Mistura ha incontrato il Ministero degli Esteri a Roma."
    found = {sp.text: sp.label for sp in rec(text)}
    assert found.get("Staffan de Mistura") == "PER", found
    assert found.get("Roma") == "LOC", found


def test_tokenizer_follows_training_conventions():
    forms = [t.form for t in crf.tokenize("Prema Index.hr, NATO-u je 22. rujna.", "hr")]
    assert forms == ["Prema", "Index.hr", ",", "NATO-u", "je", "22.", "rujna", "."]
    pt = crf.tokenize("Banco do Brasil", "pt")
    assert [t.form for t in pt] == ["Banco", "de", "o", "Brasil"]
    assert (pt[1].start, pt[1].end) == (pt[2].start, pt[2].end) == (6, 8)
    assert [t.form for t in crf.tokenize("習近平 訪問", "zh")] == ["習", "近", "平", "訪", "問"]


def _sentence(doc, *pairs):
    words = [w for w, _ in pairs]
    return crf.Sentence(words, [t for _, t in pairs], doc=doc)


def test_entity_lexicon_links_inflected_forms_and_measures_reliability():
    sents = [
        _sentence("d1", ("Kosovo", "B-LOC"), ("je", "O"), ("malo", "O")),
        _sentence("d2", ("Vlada", "B-ORG"), ("Kosova", "I-ORG"), ("i", "O"), ("Kosovo", "B-LOC")),
        _sentence("d3", ("Proces", "O"), ("je", "O"), ("na", "O"), ("Kosovu", "B-LOC")),
        _sentence("d4", ("Malo", "O"), ("je", "O")),
    ]
    lex = crf.EntityLexicon.from_sentences(sents)
    # Unseen inflection "Kosovom" meets "Kosovo"/"Kosova"/"Kosovu" through the prefix "kosov".
    assert lex.word("Kosovom") == {"lex5": "LOC:hi", "lex4": "LOC:hi"}
    assert lex.word("Kosovo")["lex"] == "LOC:hi"
    assert lex.word("je") == {}  # never inside a name
    assert lex.word("Vlada")["lex"] == "ORG:hi"


def test_jackknifed_lexicon_never_sees_the_sentence_own_document():
    sents = [_sentence(f"d{k}", (f"Name{k}", "B-PER"), ("Zagreb", "B-LOC")) for k in range(10)]
    lexicons = crf.jackknife_lexicons(sents, char_level=False, folds=5)
    for k, lex in enumerate(lexicons):
        assert f"name{k}" not in lex.tables["w"]
        assert lex.tables["w"]["zagreb"] == "LOC:hi"  # other documents still count


def test_chinese_lexicon_marks_known_entities_and_words():
    sents = [crf.Sentence(["香港", "是", "城市"], ["B-LOC", "O", "O"], doc="d1")]
    lex = crf.EntityLexicon.from_sentences(sents, char_level=True)
    feats = lex.chars(list("他在香港城市"))
    assert feats[2]["lexe"] == "B-LOC" and feats[3]["lexe"] == "E-LOC"
    assert feats[4]["seg"] == "B" and feats[5]["seg"] == "E"
    assert "lexe" not in feats[0]


def test_lexicon_round_trips_through_its_data_file(tmp_path, monkeypatch):
    sents = [_sentence("d1", ("Zagreb", "B-LOC"), ("grad", "O"))]
    lex = crf.EntityLexicon.from_sentences(sents)
    path = tmp_path / "lex.tsv"
    lex.save(path, "test\nlexicon")
    monkeypatch.setattr(crf, "_data_lines", lambda name: [
        line for line in path.read_text("utf-8").splitlines() if line and not line.startswith("#")])
    assert crf.EntityLexicon.load("lex.tsv").tables == lex.tables


def test_tokenizer_keeps_abbreviations_initials_and_ampersands_whole():
    text = "Sudac dr. Ivo Horvat (S&D) i P. Santos -- u Zagrebu."
    forms = [t.form for t in crf.tokenize(text, "hr")]
    assert forms == ["Sudac", "dr.", "Ivo", "Horvat", "(", "S&D", ")", "i", "P.", "Santos", "--",
                     "u", "Zagrebu", "."]
    # An abbreviation's stop does not end the sentence; the final one does.
    tokens = crf.tokenize(text, "hr")
    assert len(crf.split_sentences(text, tokens)) == 1
    # Without a language (the fallback's tokenising) full stops stay separate.
    assert "dr" in [t.form for t in crf.tokenize(text)]


def test_document_context_tells_names_from_sentence_initial_words():
    doc = crf.DocContext([["Bush", "je", "rekao"], ["Predsjednik", "Bush", "i", "proces"], ["Proces", "je"]])
    assert doc.features(["Bush", "je"])[0] == {"doc_caps": 1.0}  # capitalised mid-sentence elsewhere
    assert doc.features(["Proces", "je"])[0] == {"doc_lower": 1.0}  # written lowercase elsewhere
    assert doc.features(["Predsjednik", "je"])[0] == {}


def test_sentence_splitter_does_not_cut_after_initials():
    text = "Vodi ju George W. Bush. Potom prišiel Karol VI. Koniec."
    sentences = crf.split_sentences(text, crf.tokenize(text, "sk"))
    assert [t.form for t in sentences[0]] == ["Vodi", "ju", "George", "W", ".", "Bush", "."]
    # "VI." before a capital is a regnal number, not a sentence end; "Koniec" starts anew only
    # after the next full stop.
    assert [t.form for t in sentences[1]][:5] == ["Potom", "prišiel", "Karol", "VI", "."]
    assert len(sentences) == 2


def test_shipped_models_find_their_lexicons():
    for model in ("hbs", "sk", "pt", "zh"):
        tagger = crf.CRFTagger(ner.model_dir() / f"{model}.crfsuite")
        assert tagger.config.entity_lexicon, model
        lexicon = crf.load_lexicon(tagger.config.entity_lexicon)
        assert lexicon.tables, model
    hbs = crf.CRFTagger(ner.model_dir() / "hbs.crfsuite")
    # An inflected form the lexicon links to its name through the prefix.
    assert "lex5" in hbs._fz._word_features("Kosovom")


def _novel_texts(n: int) -> list[str]:
    return [f"Zorblat{k} Quintavex{k} told Reuters in Xanthoria{k} that MegaCorp{k}x would pay {k}.{k}7 "
            f"million to Flimflam{k} Ltd." for k in range(n)]


def test_spacy_vocabulary_does_not_grow_with_the_texts_it_reads(monkeypatch):
    """A monitor runs for months over texts full of new words (names, numbers, URLs): once the
    recogniser holds ``spacy_kept_words`` words, spaCy's shared vocabulary must not keep more,
    or memory grows without bound."""
    from tidings import entities

    ner.recognise("Angela Merkel met Emmanuel Macron in Paris.", "en")
    nlp = ner._get(ner._resolve("en")).nlp
    monkeypatch.setitem(entities.settings(), "spacy_kept_words", 0)
    before = len(nlp.vocab.strings)
    for text in _novel_texts(30):
        spans = ner.recognise(text, "en")
        assert spans  # the recogniser still finds names inside the memory zone
    assert len(nlp.vocab.strings) - before < 10


def test_spacy_keeps_words_up_to_its_limit_with_the_same_names(monkeypatch):
    """Under ``spacy_kept_words`` the words of a text stay in spaCy's vocabulary (common words
    are then looked up, not built again for every article); the first text that takes the count
    over the limit is the last one kept; the names found are those found in a memory zone."""
    from tidings import entities

    ner.recognise("Angela Merkel met Emmanuel Macron in Paris.", "en")
    run = ner._get(ner._resolve("en"))
    nlp = run.nlp
    texts = [t.replace("Zorblat", "Plonkvar") for t in _novel_texts(12)]
    monkeypatch.setitem(entities.settings(), "spacy_kept_words", 0)
    zoned = [ner.recognise(t, "en") for t in texts]
    strings = len(nlp.vocab.strings)
    monkeypatch.setitem(entities.settings(), "spacy_kept_words", len(nlp.vocab) - run.loaded_words + 1)
    kept = [ner.recognise(texts[0], "en")]
    after_first = len(nlp.vocab.strings)
    assert after_first > strings  # its new words were kept: "Plonkvar0", "Quintavex0", ...
    kept += [ner.recognise(t, "en") for t in texts[1:]]
    assert len(nlp.vocab.strings) == after_first  # over the limit: the others' words forgotten
    assert kept == zoned and all(kept)
    monkeypatch.setitem(entities.settings(), "spacy_kept_words", 10**9)
    assert [ner.recognise(t, "en") for t in texts] == zoned  # all kept this time, same names
    assert len(nlp.vocab.strings) > after_first


def test_possessive_s_is_cut_in_english_only():
    from tidings.models import Span

    text = "Moody's cut the rating."
    span = [Span(0, 7, "ORG", "Moody's")]
    assert [s.text for s in ner._clean_spans(text, span, "en")] == ["Moody"]      # English genitive rule
    assert [s.text for s in ner._clean_spans(text, span, "hr")] == ["Moody's"]    # part of the name elsewhere


def test_regnal_number_loses_its_ordinal_period():
    from tidings.models import Span

    text = "Pápež Ján Pavol II. navštívil Bratislavu. Pozri aj časť II."
    span = [Span(6, 19, "PER", "Ján Pavol II."), Span(55, 59, "LOC", "II.")]
    # "Ján Pavol II." and "Ján Pavol II" are one name; a numeral alone is none.
    assert [s.text for s in ner._clean_spans(text, span, "sk")] == ["Ján Pavol II"]
    assert [s.text for s in ner.recognise(text, "sk")] == ["Ján Pavol II", "Bratislavu"]


@pytest.mark.parametrize("text, lang, pair", [
    ("Pregovori Rusija-Ukrajina nastavljeni su u Istanbulu.", "hr", ["Rusija", "Ukrajina"]),
    ("Rokovania Rusko-Ukrajina pokračovali v Istanbule.", "sk", ["Rusko", "Ukrajina"]),
    ("O jogo Portugal-Turquia terminou empatado em Lisboa.", "pt", ["Portugal", "Turquia"]),
    ("Переговоры Россия-Украина продолжились в Стамбуле.", "ru", ["Россия", "Украина"]),
    ("Les négociations Russie-Ukraine ont repris à Istanbul.", "fr", ["Russie", "Ukraine"]),
])
def test_two_countries_joined_by_a_hyphen_are_two_places(text, lang, pair):
    spans = ner.recognise(text, lang)
    assert [s.text for s in spans if s.label == "LOC"][:2] == pair
    assert not any("-" in s.text for s in spans)           # no "Rusija-Ukrajina" entity
    assert len(spans) == 3                                  # and nothing else from the pair's words


def test_hyphenated_names_that_are_no_pair_of_states_stay_whole():
    # Bissau is a city and "Austro" only a stem of Austria.
    text = "A Guiné-Bissau e o Império Austro-Hungaro."
    assert ner.split_state_pairs(text, [], "pt") == []
    spans = ner.recognise(text, "pt")
    assert "Guiné-Bissau" in [s.text for s in spans]


def test_german_fallback_takes_curated_names_even_where_german_knows_the_word():
    # "Twitter" is also a German word (twittern), so the noun test alone would drop it.
    spans = ner.recognise("Er schrieb auf Twitter, dass die BBC falsch berichtet habe.", "de")
    assert [(s.text, s.label) for s in spans] == [("Twitter", "ORG"), ("BBC", "ORG")]


@pytest.mark.parametrize("text, lang, kept", [
    ("The Paris Agreement will slow climate change, officials said in Paris.", "en", ["Paris"]),
    ("Ukraine and Russia signed the Minsk agreements in 2015.", "en", ["Ukraine", "Russia"]),
    ("The Treaty of Lisbon entered into force.", "en", []),
    ("Das Abkommen von Paris wird den Klimawandel verlangsamen.", "de", []),
    ("Provedba sporazuma iz Minska počela je u Kijevu.", "hr", ["Kijevu"]),
    ("Donald Trump praised the Trump agreement with Mexico.", "en", ["Donald Trump", "Trump", "Mexico"]),
])
def test_a_place_that_names_an_agreement_is_no_location(text, lang, kept):
    # "in Paris" (the last word) is a place; "the Paris Agreement" is not; a person stays.
    assert [s.text for s in ner.recognise(text, lang)] == kept


def test_fallback_drops_a_one_letter_preposition_that_starts_a_sentence():
    # Italian "A Zagabria": "A" is the preposition, capitalised only because it starts the
    # sentence (the all-capitals guard that keeps "UN" whole is for two letters or more).
    spans = ner.recognise("A Zagabria il livello della Sava è sceso.", "it")
    assert [s.text for s in spans][:1] == ["Zagabria"]


def test_fallback_finds_curated_names_with_lowercase_words_whole():
    # Capitalised runs alone give a person "Banca" and miss the rest of the name.
    spans = ner.recognise("La Banca centrale europea ha tagliato i tassi, dicono Medici Senza Frontiere.", "it")
    assert [(s.text, s.label) for s in spans] == [("Banca centrale europea", "ORG"), ("Medici Senza Frontiere", "ORG")]
    de = ner.recognise("Die Europäische Zentralbank senkt die Zinsen.", "de")
    assert [(s.text, s.label) for s in de] == [("Europäische Zentralbank", "ORG")]


def test_whole_word_matches_are_those_of_the_alternation_pattern():
    """ner._propagate finds the other mentions of a text's names without compiling a pattern per
    text: the matches must be exactly re.finditer's of (?<!\\w)(?:name|...)(?!\\w), longest first."""
    import random

    rng = random.Random(17)
    pieces = ["Ana", "Anas", "Ana María", "María", "ß", "Đ", "é", "U.S.", "S.", "_", "1", " ", " ", ", ", "-", "’s",
              "\n", "Kerry", "John Kerry", "Kerryjev", "Ерdoğan", "Erdoğan"]
    for _ in range(400):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 40)))
        names = sorted({rng.choice(pieces).strip() for _ in range(rng.randint(1, 6))} - {""}, key=len, reverse=True)
        if not names:
            continue
        pattern = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, names)) + r")(?!\w)")
        expected = [(m.start(), m.end(), m.group()) for m in pattern.finditer(text)]
        assert ner.whole_word_matches(text, names) == expected, (text, names)


def test_first_letter_alternation_matches_as_the_flat_one():
    """The curated names' pattern is grouped by first letter for speed: on texts made of those
    names in every case (and letters that fold alike: ſ/s, K/k, İ/i), it must find exactly the
    matches of the flat case-insensitive alternation, longest first."""
    import random

    _, labels = ner._curated_multiword()
    words = sorted(labels, key=len, reverse=True)
    flat = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, words)) + r")(?!\w)", re.IGNORECASE)
    grouped = re.compile(r"(?<!\w)(?:" + ner.first_letter_alternation(words) + r")(?!\w)", re.IGNORECASE)
    assert len(grouped.pattern) < len(flat.pattern)
    rng = random.Random(3)
    noise = [" ", ", ", ". ", "-", "x", "ſ", "K", "İ", "ı", "\n", "la ", "the "]
    for _ in range(300):
        parts = []
        for _ in range(rng.randint(1, 12)):
            w = rng.choice(words) if rng.random() < 0.6 else rng.choice(noise)
            w = rng.choice([w, w.upper(), w.title(), w[: rng.randint(1, len(w))]])
            parts.append(w + rng.choice(["", " ", "s ", ". "]))
        text = "".join(parts)
        assert [m.span() for m in grouped.finditer(text)] == [m.span() for m in flat.finditer(text)], text
    # letters that fold alike share one group
    mixed = ["ſa b", "sa c", "Ka d", "ka e", "ka f"]
    assert re.fullmatch(ner.first_letter_alternation(mixed), "SA B", re.IGNORECASE)
    for text in ("sa b", "ſa c", "ka d", "Ka f", "KA E"):
        flat_m = re.fullmatch("|".join(map(re.escape, mixed)), text, re.IGNORECASE)
        assert bool(re.fullmatch(ner.first_letter_alternation(mixed), text, re.IGNORECASE)) == bool(flat_m)
