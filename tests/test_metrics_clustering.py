"""BCubed, cross-lingual BCubed and pairwise scores against hand-computed values."""

import math

import pytest

from tidings.metrics import (bcubed, clustering_report, cross_lingual_bcubed, pairwise, pearson,
                             per_language_bcubed, spearman)

GOLD = ["A", "A", "A", "B", "B"]
PRED = [1, 1, 2, 2, 2]
LANGS = ["en", "de", "en", "de", "en"]


def test_bcubed_matches_hand_computation():
    # precision per item: 1, 1, 1/3, 2/3, 2/3; recall per item: 2/3, 2/3, 1/3, 1, 1
    r = bcubed(PRED, GOLD)
    assert r.precision == pytest.approx((1 + 1 + 1 / 3 + 2 / 3 + 2 / 3) / 5)
    assert r.recall == pytest.approx((2 / 3 + 2 / 3 + 1 / 3 + 1 + 1) / 5)
    assert r.f1 == pytest.approx(2 * r.precision * r.recall / (r.precision + r.recall))


def test_cross_lingual_bcubed_matches_hand_computation():
    # precision per item: 1, 1, 0, 1/2, 1; recall per item: 1, 1/2, 0, 1, 1
    r = cross_lingual_bcubed(PRED, GOLD, LANGS)
    assert r.precision == pytest.approx(3.5 / 5)
    assert r.recall == pytest.approx(3.5 / 5)


def test_cross_lingual_skips_items_without_other_language_gold():
    # Item 2 (en) has no other-language item in its gold cluster: skipped for recall.
    r = cross_lingual_bcubed(["x", "x", "y"], ["A", "A", "B"], ["en", "de", "en"])
    assert r.recall == pytest.approx(1.0)
    assert r.n == 2
    # Nothing mixes languages in the prediction: precision 1 by convention, recall 0.
    r = cross_lingual_bcubed(["x", "y"], ["A", "A"], ["en", "de"])
    assert (r.precision, r.recall, r.f1) == (1.0, 0.0, 0.0)


def test_perfect_and_all_in_one():
    assert bcubed(GOLD, GOLD).f1 == pytest.approx(1.0)
    one = bcubed(["z"] * 5, GOLD)
    assert one.recall == pytest.approx(1.0)
    assert one.precision == pytest.approx((3 * 3 / 5 + 2 * 2 / 5) / 5)


def test_pairwise():
    r = pairwise(PRED, GOLD)
    assert (r.precision, r.recall) == (pytest.approx(0.5), pytest.approx(0.5))


def test_per_language_and_report_with_mappings():
    per = per_language_bcubed(PRED, GOLD, LANGS)
    assert set(per) == {"en", "de"}
    ids = [f"a{i}" for i in range(5)]
    report = clustering_report(dict(zip(ids, GOLD)), dict(zip(ids, PRED)), dict(zip(ids, LANGS)))
    assert report["bcubed"]["f1"] == pytest.approx(bcubed(PRED, GOLD).f1)
    assert report["cross_lingual_bcubed"]["precision"] == pytest.approx(0.7)
    assert report["per_language"]["en"]["n"] == 3
    with pytest.raises(ValueError):
        clustering_report({"a": 1, "b": 2}, {"a": 1}, None)


def test_correlations():
    assert pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [1, 4, 9, 100]) == pytest.approx(1.0)
    assert spearman([1, 1, 2], [3, 3, 1]) == pytest.approx(-1.0)
    assert math.isclose(pearson([1, 1, 1], [1, 2, 3]), 0.0)
