"""The similarity score as one calibrated number: P(two articles report the same story).

:func:`tidings.similarity.similarity` measures parts (text, entities, places, time); this turns
them into a probability with a logistic regression whose coefficients ship in
``data/similarity/calibration.toml``, fitted by ``bench/fit_similarity.py`` on SemEval-2022 t8
dev pairs and OG2021 dev cluster pairs (the file says on what, with the command and its
cross-validated figures). An optional part (entities, places, time) enters centred on its mean
over the training pairs, so a missing one (an article without places) counts as average
evidence; a part with weight 0 added nothing in cross-validation and is not shown.

The text part has two forms (:func:`tidings.similarity.similarity`): the cosine centred on the
per-language means, and the raw-cosine mapping a store with too few articles falls back to. They
are distributed differently, so each has its own coefficients: the file's top level for the
centred form, its ``[raw]`` table for the other.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["Calibration", "load_calibration", "same_story_probability", "FEATURES", "OPTIONAL"]

#: The model's inputs: the parts of the similarity score and whether the languages differ.
FEATURES = ("text", "cross", "entities", "places", "time")
#: Parts that can be missing (centred on their training mean; missing counts as the mean).
OPTIONAL = ("entities", "places", "time")


def _path() -> Path:
    return Path(str(resources.files("tidings").joinpath("data", "similarity", "calibration.toml")))


@dataclass(frozen=True)
class Calibration:
    intercept: float
    weights: dict[str, float]
    means: dict[str, float] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    #: coefficients for the raw-cosine text part (no per-language centres); None: use these
    raw: "Calibration | None" = None

    def for_result(self, result) -> "Calibration":
        """The coefficients for this result's form of the text part (centred or raw cosine)."""
        centred = "centred_cosine" in result.components
        return self if centred or self.raw is None else self.raw

    @property
    def shown(self) -> list[str]:
        """The parts that count (non-zero weight), in display order; "cross" is no part to show."""
        return [f for f in FEATURES if f != "cross" and self.weights.get(f, 0.0) != 0.0]

    def probability(self, parts: Mapping[str, float], missing: set[str] | list[str], cross: bool) -> float:
        z = self.intercept
        for f, w in self.weights.items():
            if w == 0.0:
                continue
            if f == "cross":
                z += w * float(cross)
            elif f in OPTIONAL:
                if f not in missing:
                    z += w * (parts[f] - self.means.get(f, 0.0))
            else:
                z += w * parts[f]
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0


@lru_cache(maxsize=1)
def load_calibration() -> Calibration:
    with _path().open("rb") as handle:
        data = tomllib.load(handle)
    return _calibration(data)


def _calibration(data: Mapping[str, Any]) -> Calibration:
    raw = data.get("raw")
    return Calibration(float(data["intercept"]), {k: float(v) for k, v in data["weights"].items()},
                       {k: float(v) for k, v in data.get("means", {}).items()}, dict(data.get("provenance", {})),
                       _calibration(raw) if raw else None)


def same_story_probability(result, a_lang: str | None, b_lang: str | None,
                           calibration: Calibration | None = None) -> tuple[float, dict[str, float]]:
    """(P(same story), the parts that count) for a :class:`~tidings.similarity.SimilarityResult`."""
    cal = (calibration or load_calibration()).for_result(result)
    cross = bool(a_lang and b_lang and a_lang != b_lang and "und" not in (a_lang, b_lang))
    p = cal.probability(result.components, set(result.missing), cross)
    shown = {k: result.components[k] for k in cal.shown if k not in result.missing}
    return p, shown


def write_calibration(intercept: float, weights: Mapping[str, float], means: Mapping[str, float],
                      provenance: Mapping[str, Any], path: Path | None = None,
                      raw: Mapping[str, Any] | None = None) -> Path:
    """Write the coefficients (bench/fit_similarity.py); TOML by hand, the standard library reads only.

    ``raw``: ``intercept``, ``weights``, ``means`` (and any figures) of the raw-cosine text part."""
    path = path or _path()
    path.parent.mkdir(parents=True, exist_ok=True)

    def value(v: Any) -> str:
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if v is None:
            return '""'
        return repr(v)

    lines = ["# P(same story) = 1 / (1 + exp(-z)), z = intercept + sum of weight * part; an optional part",
             "# (entities, places, time) enters as (part - mean) and counts 0 when missing; cross is 1 for two",
             "# languages. Written by bench/fit_similarity.py (see [provenance]); read by tidings/calibration.py.",
             f"intercept = {intercept!r}", "", "[weights]"]
    lines += [f"{k} = {float(weights.get(k, 0.0))!r}" for k in FEATURES]
    lines += ["", "[means]"] + [f"{k} = {float(v)!r}" for k, v in means.items()]
    lines += ["", "[provenance]"] + [f"{k} = {value(v)}" for k, v in provenance.items()]
    if raw is not None:
        lines += ["", "# The same for the raw-cosine text part (a store too small for per-language centres).",
                  "[raw]", f"intercept = {float(raw['intercept'])!r}", "", "[raw.weights]"]
        lines += [f"{k} = {float(raw['weights'].get(k, 0.0))!r}" for k in FEATURES]
        lines += ["", "[raw.means]"] + [f"{k} = {float(v)!r}" for k, v in raw.get("means", {}).items()]
        lines += ["", "[raw.provenance]"] + [f"{k} = {value(v)}" for k, v in raw.items()
                                             if k not in ("intercept", "weights", "means")]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    load_calibration.cache_clear()
    return path
