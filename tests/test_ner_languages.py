"""Serbian Cyrillic goes through the Latin model with offsets mapped back; the fallback
handles German; Portuguese contractions and Chinese characters are tokenised as in training."""

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
