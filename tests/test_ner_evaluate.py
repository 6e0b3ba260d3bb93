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


def test_error_report_sorts_each_kind_of_error(tmp_path):
    path = tmp_path / "tiny.iob2"
    path.write_text(IOB2, encoding="utf-8")
    report = ner.evaluate_iob2(path, "xx", recogniser=fake, errors=5)["errors"]
    assert report["wrong_label"] == {"total": 1, "cases": [
        {"text": "UN", "gold": "ORG", "predicted": "LOC", "count": 1}]}
    assert report["spurious"]["cases"] == [{"text": "met", "gold": "", "predicted": "PER", "count": 1}]
    assert report["missed"]["cases"] == [{"text": "Ana", "gold": "PER", "predicted": "", "count": 1}]
    assert report["boundary"] == {"total": 0, "cases": []}
    # A span that cuts a gold name short is a boundary error, not a miss and a spurious span.
    text = "Bugarska vojska i Bugarska vojska."
    gold = {(0, 15, "ORG"), (18, 33, "ORG")}
    pred = {(0, 8, "LOC"), (18, 26, "LOC")}
    report = ner.error_report([text], [(gold, pred)], top=1)
    assert report["boundary"] == {"total": 2, "cases": [
        {"text": "Bugarska", "gold": "ORG", "predicted": "LOC", "count": 2, "gold_text": "Bugarska vojska"}]}
    assert report["missed"]["total"] == report["spurious"]["total"] == 0


def test_cli_prints_errors_before_the_summary_line(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from tidings.cli import app

    path = tmp_path / "tiny.iob2"
    path.write_text(IOB2, encoding="utf-8")
    monkeypatch.setitem(ner._factories, "zz", lambda: fake)
    monkeypatch.setitem(ner._loaded, "zz", fake)
    result = CliRunner().invoke(app, ["evaluate", "entities", str(path), "--lang", "zz", "--errors", "3"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert "wrong label: 1" in lines and "missed: 1" in lines
    assert any("'UN'" in line and "gold ORG, predicted LOC" in line for line in lines)
    assert lines[-1] == "summary: f1=0.600"
    plain = CliRunner().invoke(app, ["evaluate", "entities", str(path), "--lang", "zz"])
    assert "wrong label" not in plain.stdout
