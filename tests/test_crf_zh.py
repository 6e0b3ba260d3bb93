"""The Chinese character CRF: jieba word features (segmentation on a Simplified copy, parts of
speech, offsets kept) and the shipped zh model finding names in a sentence."""

import json
import logging

from tidings import crf, ner

TRAD = "習近平在北京會見了聯合國秘書長。"


def test_jieba_words_join_back_into_the_original_text():
    words = crf.jieba_words(TRAD, t2s=True)
    assert "".join(w for w, _ in words) == TRAD  # cut from the Traditional text, not the copy
    tags = dict(words)
    assert tags["習近平"].startswith("nr")
    assert tags["北京"] == "ns"
    assert tags["聯合國"] == "nt"


def test_simplified_copy_is_what_makes_traditional_text_segment():
    # jieba's dictionary is Simplified: on the Traditional text itself it misses these words.
    plain = dict(crf.jieba_words(TRAD))
    assert plain.get("聯合國") != "nt"
    simplified = dict(crf.jieba_words("习近平在北京会见了联合国秘书长。"))
    assert simplified["联合国"] == "nt" and simplified["北京"] == "ns"


def test_jieba_character_features_per_group():
    chars = list("習近平在北京")
    lexicon = crf.EntityLexicon({"ent": {"北京": "LOC"}, "word": {}})
    feats = crf._jieba_char_features(chars, frozenset({"seg", "pos", "len", "ctx", "lex", "t2s"}), lexicon)
    assert [f["jw"] for f in feats] == ["B", "M", "E", "S", "B", "E"]
    assert feats[4]["jp"] == "B-ns" and feats[5]["jt"] == "ns"
    assert feats[0]["jl"] == "B3" and feats[3]["jl"] == "S1"
    assert feats[3]["jt-1"].startswith("nr") and feats[3]["jt+1"] == "ns" and feats[0]["jt-1"] == "BOS"
    assert feats[4]["jlex"] == "B-LOC" and "jlex" not in feats[0]
    only_seg = crf._jieba_char_features(chars, frozenset({"seg", "t2s"}), lexicon)
    assert all(set(f) == {"jw"} for f in only_seg)


def test_jieba_is_quiet_and_caches_in_a_private_temp_dir(capsys):
    crf._load_jieba()
    assert logging.getLogger("jieba").getEffectiveLevel() >= logging.WARNING
    crf.jieba_words("他在上海。")
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    import tempfile
    from pathlib import Path

    cache_dir = Path(crf._jieba_cache_dir())
    assert cache_dir.is_relative_to(tempfile.gettempdir())
    assert not cache_dir.stat().st_mode & 0o022


def test_feature_config_leaves_unset_late_fields_out_of_its_json():
    # Word models' shipped configs stay byte-identical when retrained.
    plain = json.loads(crf.FeatureConfig(lang="hr").to_json())
    assert "jieba" not in plain
    cfg = crf.FeatureConfig(lang="zh", char_level=True, jieba="seg,pos")
    assert crf.FeatureConfig.from_json(cfg.to_json()) == cfg


def test_shipped_zh_model_finds_people_and_places():
    tagger = crf.CRFTagger(ner.model_dir() / "zh.crfsuite")
    for text in ("国家主席习近平今天在北京会见了来访的法国总统马克龙。",
                 "國家主席習近平今天在北京會見了來訪的法國總統馬克龍。"):
        spans = {(s.text, s.label) for s in tagger(text)}
        assert ("北京", "LOC") in spans, spans
        assert any(label == "PER" and "近平" in name for name, label in spans), spans
        for s in tagger(text):
            assert text[s.start:s.end] == s.text


def test_simplified_config_reads_both_scripts_alike():
    cfg = crf.FeatureConfig(lang="zh", char_level=True, entity_lexicon="crf_zh_lexicon.tsv",
                            jieba="pos,ctx,t2s", simplified=True)
    fz = crf.Featurizer(cfg)
    trad = fz.sentence(list("國家主席習近平在北京會見聯合國秘書長。"))
    simp = fz.sentence(list("国家主席习近平在北京会见联合国秘书长。"))
    assert trad == simp
    assert trad[4]["c"] == "习" and trad[4]["jp"].startswith("B-nr")
    # Without it the two scripts give different characters.
    plain = crf.Featurizer(crf.FeatureConfig(lang="zh", char_level=True, gazetteers=False))
    assert plain.sentence(list("習"))[0]["c"] == "習"


def test_bioes_tags_round_trip_to_the_same_spans():
    tags = ["O", "B-PER", "I-PER", "I-PER", "B-LOC", "O", "I-ORG", "I-ORG", "B-PER", "B-PER"]
    bioes = crf.iob2_to_bioes(tags)
    assert bioes == ["O", "B-PER", "I-PER", "E-PER", "S-LOC", "O", "B-ORG", "E-ORG", "S-PER", "S-PER"]
    assert crf.tags_to_spans(crf.bioes_to_iob2(bioes)) == crf.tags_to_spans(tags)
