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


# ---- the refit of issue #15 point 5: all SemEval pairs, two forms of the text part -----------------
def _calibrations():
    cal = load_calibration()
    assert cal.raw is not None, "calibration.toml has no [raw] coefficients"
    return {"centred": cal, "raw": cal.raw}


@pytest.mark.parametrize("form", ["centred", "raw"])
def test_score_is_a_probability_rising_with_the_text_part(form):
    cal = _calibrations()[form]
    grid = np.linspace(0.0, 1.0, 41)
    for cross in (False, True):
        for missing in ([], list(OPTIONAL)):
            others = {"entities": 0.3, "places": 0.5, "time": 0.9}
            ps = [cal.probability({"text": t, **others}, missing, cross) for t in grid]
            assert all(0.0 <= p <= 1.0 for p in ps)
            assert all(b > a for a, b in zip(ps, ps[1:])), (form, cross, missing)
    # the ends mean something: unrelated text is unlikely the same story, near-identical text likely
    assert cal.probability({"text": 0.0, "entities": 0, "places": 0, "time": 0}, list(OPTIONAL), False) < 0.1
    assert cal.probability({"text": 1.0, "entities": 0, "places": 0, "time": 0}, list(OPTIONAL), False) > 0.9


def test_each_form_of_the_text_part_gets_its_own_coefficients():
    from tidings.similarity import SimilarityResult

    cal = load_calibration()
    parts = {"text": 0.4, "entities": 0.5, "places": 0.0, "time": 0.0, "cosine": 0.9}
    centred = SimilarityResult(0.4, {**parts, "centred_cosine": 0.45}, ["places", "time"])
    raw = SimilarityResult(0.4, dict(parts), ["places", "time"])
    assert cal.for_result(centred) is cal and cal.for_result(raw) is cal.raw
    assert same_story_probability(centred, "en", "de")[0] == pytest.approx(
        cal.probability(centred.components, centred.missing, True))
    assert same_story_probability(raw, "en", "de")[0] == pytest.approx(
        cal.raw.probability(raw.components, raw.missing, True))
    assert cal.raw.provenance == {} or "cv_semeval_pearson" in cal.raw.provenance
    # a calibration without [raw] uses its one set of coefficients for both forms
    single = Calibration(-1.0, {"text": 3.0})
    assert single.for_result(raw) is single


def test_written_calibration_reads_back_with_its_raw_table(tmp_path):
    import tomllib

    from tidings.calibration import _calibration, write_calibration
    path = write_calibration(-2.5, {"text": 7.0, "time": 3.0}, {"time": 0.8}, {"fitted_by": "test", "cv": 'a "b"'},
                             path=tmp_path / "c.toml",
                             raw={"intercept": -4.0, "weights": {"text": 9.0, "cross": 0.5}, "means": {},
                                  "cv_semeval_pearson": 0.7})
    cal = _calibration(tomllib.loads(path.read_text(encoding="utf-8")))
    assert (cal.intercept, cal.weights["text"], cal.weights["time"], cal.means) == (-2.5, 7.0, 3.0, {"time": 0.8})
    assert cal.provenance["cv"] == 'a "b"'
    assert (cal.raw.intercept, cal.raw.weights["text"], cal.raw.weights["cross"]) == (-4.0, 9.0, 0.5)
    assert cal.raw.provenance["cv_semeval_pearson"] == 0.7 and cal.raw.raw is None
    assert cal.shown == ["text", "time"] and cal.raw.shown == ["text"]


def test_the_seeds_are_likely_one_story(seeds_monitor):
    """The issue's example: the Croatian and English seeds, which tidings puts in one story."""
    ids = [row[0] for row in seeds_monitor.store.conn.execute("SELECT id FROM articles ORDER BY id")]
    result = seeds_monitor.similarity(*ids)
    assert result["score"] >= 0.5, result
    cal = load_calibration()
    assert set(result["components"]) <= set(cal.shown) | set(cal.raw.shown)
    assert "cosine" not in result["components"] and "centred_cosine" not in result["components"]
