"""Clustering and similarity metrics used by ``tidings evaluate`` and the benchmarks.

BCubed (Bagga & Baldwin 1998) is the standard for news-event clustering (it is what the
OG2021 and Event Registry papers report): every item scores the precision and recall of its
own predicted cluster against its gold cluster, so big stories weigh in proportion to their
size and no cluster-to-cluster matching is needed.

The cross-lingual variant answers the question a multilingual monitor cares about: "did
articles in *other* languages end up with me when (and only when) they should?". For item
``i`` only items of a language different from ``i``'s are counted:

* recall(i) = |other-language items in pred(i) ∩ gold(i)| / |other-language items in gold(i)|,
  averaged over the items whose gold cluster has at least one other-language item;
* precision(i) = |other-language items in pred(i) ∩ gold(i)| / |other-language items in pred(i)|,
  averaged over the items whose predicted cluster has at least one other-language item.
  If no predicted cluster mixes languages, precision is 1.0 by convention (nothing wrong was
  claimed) and F1 is then governed by recall, which is 0.

Pairwise P/R/F1 counts unordered pairs of items put together (predicted) versus belonging
together (gold). All functions take parallel sequences of labels; they never look at the text.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass

__all__ = [
    "PRF",
    "bcubed",
    "cross_lingual_bcubed",
    "pairwise",
    "per_language_bcubed",
    "clustering_report",
    "pearson",
    "spearman",
]


@dataclass(frozen=True)
class PRF:
    """Precision, recall, F1 and how many items (or pairs) they were averaged over."""

    precision: float
    recall: float
    f1: float
    n: int = 0

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def _f1(p: float, r: float) -> float:
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def _check(pred: Sequence[Hashable], gold: Sequence[Hashable]) -> None:
    if len(pred) != len(gold):
        raise ValueError(f"pred has {len(pred)} labels, gold has {len(gold)}")


def bcubed(pred: Sequence[Hashable], gold: Sequence[Hashable]) -> PRF:
    """BCubed precision/recall/F1 (each item counts itself, as in the original definition)."""
    _check(pred, gold)
    n = len(pred)
    if n == 0:
        return PRF(0.0, 0.0, 0.0, 0)
    joint = Counter(zip(pred, gold))
    psize = Counter(pred)
    gsize = Counter(gold)
    # Sum over items == sum over (pred, gold) cells of cell_size * cell_size / cluster_size.
    p = sum(c * c / psize[pl] for (pl, _), c in joint.items()) / n
    r = sum(c * c / gsize[gl] for (_, gl), c in joint.items()) / n
    return PRF(p, r, _f1(p, r), n)


def cross_lingual_bcubed(pred: Sequence[Hashable], gold: Sequence[Hashable],
                         langs: Sequence[str]) -> PRF:
    """BCubed counting, for each item, only items of other languages (definition above)."""
    _check(pred, gold)
    _check(pred, langs)
    cell = Counter(zip(pred, gold, langs))        # (pred, gold, lang) -> count
    pl = Counter(zip(pred, langs))
    gl = Counter(zip(gold, langs))
    psize = Counter(pred)
    gsize = Counter(gold)
    pg = Counter(zip(pred, gold))
    p_sum = r_sum = 0.0
    p_n = r_n = 0
    for (pc, gc, lang), c in cell.items():
        both_other = pg[(pc, gc)] - c           # same pred & gold cell, other language
        pred_other = psize[pc] - pl[(pc, lang)]
        gold_other = gsize[gc] - gl[(gc, lang)]
        if pred_other > 0:
            p_sum += c * both_other / pred_other
            p_n += c
        if gold_other > 0:
            r_sum += c * both_other / gold_other
            r_n += c
    p = p_sum / p_n if p_n else 1.0
    r = r_sum / r_n if r_n else 0.0
    return PRF(p, r, _f1(p, r), r_n)


def pairwise(pred: Sequence[Hashable], gold: Sequence[Hashable]) -> PRF:
    """Pairwise precision/recall/F1 over unordered item pairs."""
    _check(pred, gold)

    def pairs(counts: Counter) -> int:
        return sum(c * (c - 1) // 2 for c in counts.values())

    both = pairs(Counter(zip(pred, gold)))
    in_pred = pairs(Counter(pred))
    in_gold = pairs(Counter(gold))
    p = both / in_pred if in_pred else 1.0
    r = both / in_gold if in_gold else 1.0
    return PRF(p, r, _f1(p, r), in_gold)


def per_language_bcubed(pred: Sequence[Hashable], gold: Sequence[Hashable],
                        langs: Sequence[str]) -> dict[str, PRF]:
    """BCubed restricted to the items of each language (clusters cut down to that language)."""
    _check(pred, langs)
    idx: dict[str, list[int]] = defaultdict(list)
    for i, lang in enumerate(langs):
        idx[lang].append(i)
    return {lang: bcubed([pred[i] for i in ii], [gold[i] for i in ii])
            for lang, ii in sorted(idx.items(), key=lambda kv: -len(kv[1]))}


def _aligned(gold, predicted, langs):
    """Accept parallel sequences or mappings keyed by item id (only ids present in gold count)."""
    if isinstance(gold, Mapping):
        ids = list(gold)
        missing = [i for i in ids if i not in predicted]
        if missing:
            raise ValueError(f"{len(missing)} gold items have no prediction, e.g. {missing[0]!r}")
        g = [gold[i] for i in ids]
        p = [predicted[i] for i in ids]
        lg = None if langs is None else [langs[i] if isinstance(langs, Mapping) else langs for i in ids]
        return g, p, lg
    return list(gold), list(predicted), None if langs is None else list(langs)


def clustering_report(gold: Sequence[Hashable] | Mapping[str, Hashable],
                      predicted: Sequence[Hashable] | Mapping[str, Hashable],
                      langs: Sequence[str] | Mapping[str, str] | None = None) -> dict:
    """Everything ``tidings evaluate clustering`` prints, as plain dicts (JSON-ready).

    ``gold``/``predicted``/``langs`` are either parallel sequences or mappings item id -> label.
    Note the order: gold first (unlike the metric functions, which take ``pred, gold``).
    """
    g, p, lg = _aligned(gold, predicted, langs)
    out: dict = {
        "items": len(p),
        "predicted_clusters": len(set(p)),
        "gold_clusters": len(set(g)),
        "bcubed": bcubed(p, g).as_dict(),
        "pairwise": pairwise(p, g).as_dict(),
    }
    if lg is not None:
        out["cross_lingual_bcubed"] = cross_lingual_bcubed(p, g, lg).as_dict()
        out["per_language"] = {k: {"bcubed": v.as_dict(), "n": v.n}
                               for k, v in per_language_bcubed(p, g, lg).items()}
    return out


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    """Pearson correlation; 0.0 when either side is constant."""
    n = len(x)
    if n != len(y) or n < 2:
        raise ValueError("need two sequences of equal length >= 2")
    mx = sum(x) / n
    my = sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    if sxx == 0 or syy == 0:
        return 0.0
    return sxy / math.sqrt(sxx * syy)


def _ranks(values: Sequence[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        avg = (i + j) / 2 + 1
        for k in range(i, j + 1):
            ranks[order[k]] = avg
        i = j + 1
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman rank correlation (Pearson of average ranks, so ties are handled)."""
    return pearson(_ranks(x), _ranks(y))
