"""`tidings evaluate search` on a small gold file written here (two stories, three languages)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tidings.cli import app

GOLD = [
    ("1", "en", "2021-05-01T08:00:00Z", "Earthquake in Izmir kills 14, rescuers search the rubble", "quake"),
    ("2", "hr", "2021-05-01T09:00:00Z", "Potres u Izmiru: najmanje 14 mrtvih, spasioci pretražuju ruševine", "quake"),
    ("3", "de", "2021-05-01T10:00:00Z", "Erdbeben in Izmir: mindestens 14 Tote, Retter suchen in den Trümmern", "quake"),
    ("4", "en", "2021-05-01T11:00:00Z", "ECB cuts its deposit rate to 1.75 percent in Frankfurt", "ecb"),
    ("5", "de", "2021-05-01T12:00:00Z", "EZB senkt den Einlagenzins in Frankfurt auf 1,75 Prozent", "ecb"),
    ("6", "hr", "2021-05-01T13:00:00Z", "ECB u Frankfurtu smanjio kamatnu stopu na 1,75 posto", "ecb"),
]


def test_evaluate_search_reports_every_method_twice(tmp_path):
    gold = tmp_path / "gold.jsonl"
    gold.write_text("".join(json.dumps({"id": i, "lang": lang, "published_at": t, "title": title, "cluster": c}) + "\n"
                            for i, lang, t, title, c in GOLD), encoding="utf-8")
    result = CliRunner().invoke(app, ["evaluate", "search", str(gold), "--json", "--store", str(tmp_path / "e.db")])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report["methods"]) == {"words", "entities", "meaning", "fused"}
    for method in report["methods"].values():
        assert method["all"]["queries"] == 6 and method["cross_lingual"]["queries"] == 6
        for scores in method.values():
            assert 0 <= scores["recall@10"] <= scores["success@10"] <= 1 and 0 <= scores["mrr"] <= 1
    # six articles: every other article of a story is in anyone's top 10 once fused
    assert report["methods"]["fused"]["all"]["success@10"] == 1.0
    # the kept store is reused: the second run replays nothing and answers the same
    again = CliRunner().invoke(app, ["evaluate", "search", str(gold), "--json", "--store", str(tmp_path / "e.db")])
    assert json.loads(again.stdout)["methods"] == report["methods"]
    text = CliRunner().invoke(app, ["evaluate", "search", str(gold), "--store", str(tmp_path / "e.db")])
    assert "summary: cross_lingual fused recall@10=" in text.stdout
