"""evaluate_iob2 gives conlleval-style exact-span scores we can compute by hand."""

import pytest

from tidings import ner
from tidings.models import Span

IOB2 = """# newdoc id = d1
# sent_id = s1
# text = Ana Horvat live in Zagreb.
1\tAna\tB-PER\t-\t-
2\tHorvat\tI-PER\t-\t-
3\tlive\tO\t-\t-
4\tin\tO\t-\t-
5\tZagreb\tB-LOC\t-\t-
6\t.\tO\t-\t-

# sent_id = s2
# text = The UN met Ana in Split at Expo
1\tThe\tO\t-\t-
2\tUN\tB-ORG\t-\t-
3\tmet\tO\t-\t-
4\tAna\tB-PER\t-\t-
5\tin\tO\t-\t-
6\tSplit\tB-LOC\t-\t-
7\tat\tO\t-\t-
8\tExpo\tB-OTH\t-\t-
"""

# What the fake recogniser answers, by surface string: "Ana Horvat" right, "Zagreb" right,
# "UN" with the wrong label, "Ana" (second sentence) missed because only "Ana Horvat" is
# listed... and "Split" right, "met" a spurious PER. "Expo" (OTH) is not scored.
ANSWERS = {"Ana Horvat": "PER", "Zagreb": "LOC", "UN": "LOC", "Split": "LOC", "met": "PER"}


def fake(text):
    spans = []
    for name, label in ANSWERS.items():
        start = text.find(name)
        while start >= 0:
            spans.append(Span(start, start + len(name), label, name))
            start = text.find(name, start + 1)
    return spans


def test_scores_match_hand_computation(tmp_path):
    path = tmp_path / "tiny.iob2"
    path.write_text(IOB2, encoding="utf-8")
    result = ner.evaluate_iob2(path, "xx", recogniser=fake)
    # gold: PER {Ana Horvat, Ana}, LOC {Zagreb, Split}, ORG {UN}  -> 5
    # pred: PER {Ana Horvat, met}, LOC {Zagreb, UN, Split}        -> 5, correct 3
    assert result["overall"]["support"] == 5
    assert result["overall"]["precision"] == pytest.approx(3 / 5)
    assert result["overall"]["recall"] == pytest.approx(3 / 5)
    assert result["overall"]["f1"] == pytest.approx(3 / 5)
    assert result["PER"] == pytest.approx({"precision": 1 / 2, "recall": 1 / 2, "f1": 1 / 2, "support": 2})
    assert result["LOC"] == pytest.approx({"precision": 2 / 3, "recall": 1.0, "f1": 0.8, "support": 2})
    assert result["ORG"] == pytest.approx({"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1})


def test_registered_recogniser_is_used_by_language(tmp_path, monkeypatch):
    path = tmp_path / "tiny.iob2"
    path.write_text(IOB2, encoding="utf-8")
    monkeypatch.setitem(ner._factories, "zz", lambda: fake)
    monkeypatch.setitem(ner._loaded, "zz", fake)
    assert ner.evaluate_iob2(path, "zz") == ner.evaluate_iob2(path, "xx", recogniser=fake)


def test_tokens_that_do_not_match_the_text_are_rebuilt(tmp_path):
    # UD splits Portuguese "do" into "de o": the text cannot be aligned, so tokens are joined.
    path = tmp_path / "pt.iob2"
    path.write_text("# text = Banco do Brasil\n1\tBanco\tB-ORG\n2\tde\tI-ORG\n3\to\tI-ORG\n4\tBrasil\tI-ORG\n",
                    encoding="utf-8")
    seen = []
    result = ner.evaluate_iob2(path, "xx", recogniser=lambda t: seen.append(t) or [Span(0, len(t), "ORG", t)])
    assert seen == ["Banco de o Brasil"]
    assert result["overall"]["f1"] == 1.0
