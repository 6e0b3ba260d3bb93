"""One calibrated similarity score (issue #15 point 5): P(same story) from the parts by the shipped
logistic regression, with its provenance; only the parts that count are shown."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import build_api_store
from tidings.calibration import FEATURES, OPTIONAL, Calibration, load_calibration, same_story_probability
from tidings.models import StoryFeatures
from tidings.similarity import similarity

T0 = datetime(2021, 7, 1, 9, tzinfo=timezone.utc)


def feat(vec, entities=(), places=(), hours=0.0, lang="en"):
    v = np.asarray(vec, np.float32)
    return StoryFeatures(article_id=str(hash((tuple(vec), hours, lang))), lang=lang,
                         published_at=T0 + timedelta(hours=hours), embedding=v / np.linalg.norm(v),
                         entities=frozenset(entities), places=frozenset(places))


def test_shipped_calibration_says_where_it_came_from():
    cal = load_calibration()
    assert set(cal.weights) == set(FEATURES)
    assert cal.weights["text"] > 0  # more similar text, more likely the same story
    for key in ("fitted_by", "command", "data", "cv_log_loss", "cv_semeval_pearson"):
        assert cal.provenance.get(key) not in (None, ""), key
    assert "SemEval" in cal.provenance["data"] and "OG2021" in cal.provenance["data"]
    assert set(cal.means) <= set(OPTIONAL)
    assert cal.shown and "text" in cal.shown and "cross" not in cal.shown


def test_probability_is_the_logistic_of_the_parts():
    cal = Calibration(-3.0, {"text": 6.0, "cross": 0.5, "entities": 2.0, "places": 0.0, "time": 0.0},
                      {"entities": 0.25})
    parts = {"text": 0.5, "entities": 0.75, "places": 1.0, "time": 0.0}
    z = -3.0 + 6.0 * 0.5 + 0.5 + 2.0 * (0.75 - 0.25)
    assert cal.probability(parts, [], cross=True) == pytest.approx(1 / (1 + math.exp(-z)))
    # a missing optional part counts as average evidence: the same as being at its mean
    at_mean = dict(parts, entities=0.25)
    assert cal.probability(parts, ["entities"], False) == pytest.approx(cal.probability(at_mean, [], False))
    assert cal.shown == ["text", "entities"]


def test_more_similar_text_is_more_likely_the_same_story():
    base = feat([1, 0.2, 0, 0.1])
    close, far = feat([1, 0.25, 0.05, 0.1]), feat([0.2, 1, 0.4, -0.3])
    p_close, shown = same_story_probability(similarity(base, close), "en", "en")
    p_far, _ = same_story_probability(similarity(base, far), "en", "en")
    assert 0.0 <= p_far < p_close <= 1.0
    assert set(shown) <= set(load_calibration().shown)


def test_monitor_and_cli_show_one_score_and_only_the_parts_that_count(tmp_path):
    from tidings import open as open_monitor
    from tidings.cli import app
    db = tmp_path / "t.db"
    build_api_store(db)
    with open_monitor(db) as monitor:
        result = monitor.similarity("a-en1", "a-en2")
    cal = load_calibration()
    assert 0.0 <= result["score"] <= 1.0
    assert set(result["components"]) <= set(cal.shown)
    assert "cosine" not in result["components"]
    zero = [k for k in FEATURES if cal.weights[k] == 0.0]
    assert not set(zero) & set(result["components"])
    shown = CliRunner().invoke(app, ["--db", str(db), "similarity", "a-en1", "a-en2"], terminal_width=200)
    assert shown.exit_code == 0, shown.output
    assert f"score {result['score']:.3f}: probability that they report the same story" in shown.output
    for k in zero:
        assert f"{k} " not in shown.output.split("\n")[0]
