#!/usr/bin/env python3
"""Spans that ``name_checks.towns_not_people`` relabels on an IOB2 file, with their gold label
(issue #15): the check of the rule on files it was not written from.

    PYTHONPATH=src python bench/ner_town_rule.py ../shared/data/uner/hr_set-train.iob2 hr
"""

from __future__ import annotations

import sys
from collections import Counter

from tidings import ner
from tidings.name_checks import towns_not_people


def main(path: str, lang: str) -> None:
    docs, _ = ner._documents(path)
    recogniser = ner._get(ner._resolve(lang))
    outcome: Counter[str] = Counter()
    for text, gold in docs:
        spans = ner._clean_spans(text, ner.drop_treaty_places(text, ner.split_state_pairs(text, recogniser(text), lang)),
                                 lang)
        for before, after in zip(spans, towns_not_people(text, spans, ner._normalise_lang(lang))):
            if before.label != after.label:
                labels = [label for (s, e, label) in gold if (s, e) == (before.start, before.end)]
                outcome["right" if labels == [after.label] else "wrong before" if labels == [before.label]
                        else "spurious either way"] += 1
                print(f"{before.text!r} {before.label} -> {after.label}, gold {labels or 'none'}: "
                      f"...{text[max(0, before.start - 50):before.end + 30]!r}")
    print(f"{len(docs)} documents, relabelled: {dict(outcome) or 'none'}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
