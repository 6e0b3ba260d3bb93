#!/usr/bin/env python3
"""Retrain the CRF name taggers from Universal NER data and print dev-set F1 per language.

    python scripts/train_ner.py [--data ../shared/data/uner] [--out src/tidings/models]
                                [--only hbs,sk] [--eval-only] [--all]

Reproducible: L-BFGS training has no random state, the parameters below are fixed, and the
first-name list is rebuilt from the training files in a fixed order. ``--all`` also scores the
non-CRF recognisers (spaCy English, natasha Russian, the fallback on German and English).

The trained models carry the licence of their training data (CC BY-SA 4.0): see
src/tidings/models/LICENSE-UNER.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from tidings import crf, ner  # noqa: E402

# model -> (training files, dev files, feature config, training parameters).
# c1/c2, the feature set and the joint hr+sr model were chosen on hr_set-dev and sk_snk-dev
# (c1=0.1/c2=0.01 ties the best F1 there and keeps every model under 2 MB; L2-only c1=0 gives
# 8.5 MB for no gain). Joint hr+sr scores as the single-language models on both dev sets.
MODELS: dict[str, dict] = {
    "hbs": {
        "train": ["hr_set-train.iob2", "sr_set-train.iob2"],
        "dev": {"hr": "hr_set-dev.iob2", "sr": "sr_set-dev.iob2"},
        "config": crf.FeatureConfig(lang="hr", inflected=True, conjunctions=True),
        "params": crf.TrainParams(c1=0.1, c2=0.01, max_iterations=200),
    },
    "sk": {
        "train": ["sk_snk-train.iob2"],
        "dev": {"sk": "sk_snk-dev.iob2"},
        "config": crf.FeatureConfig(lang="sk", inflected=True, conjunctions=True),
        "params": crf.TrainParams(c1=0.1, c2=0.01, max_iterations=200),
    },
    "pt": {
        "train": ["pt_bosque-train.iob2"],
        "dev": {"pt": "pt_bosque-dev.iob2"},
        "config": crf.FeatureConfig(lang="pt", conjunctions=True),
        "params": crf.TrainParams(c1=0.1, c2=0.01, max_iterations=200),
    },
    "zh": {
        "train": ["zh_gsd-train.iob2"],
        "dev": {"zh": "zh_gsd-dev.iob2"},
        "config": crf.FeatureConfig(lang="zh", char_level=True),
        "params": crf.TrainParams(c1=0.1, c2=0.01, max_iterations=200),
    },
}

#: Recognisers that are not trained here, scored with --all.
OTHER_DEV = [("en", "en_pud-dev.iob2"), ("en", "en_ewt-dev.iob2"), ("ru", "ru_pud-dev.iob2"),
             ("de", "de_pud-dev.iob2")]
FALLBACK_DEV = [("de", "de_pud-dev.iob2"), ("en", "en_pud-dev.iob2")]

#: A first name must start at least this many multi-word PER spans in training data to be
#: listed (singletons are mostly surnames or annotation slips).
FIRST_NAME_MIN_COUNT = 2
NAME_SOURCES = ["hr_set-train.iob2", "sr_set-train.iob2", "sk_snk-train.iob2", "pt_bosque-train.iob2"]
ZH_SOURCE = "zh_gsd-train.iob2"


def build_first_names(data: Path, out: Path) -> int:
    """First words of multi-word PER spans in the Latin-script training sets, and the first
    character of Chinese PER spans (surnames)."""
    counts: Counter[str] = Counter()
    for name in NAME_SOURCES:
        for sent in crf.read_iob2(data / name):
            for first, last, label in crf.tags_to_spans(sent.tags):
                word = sent.words[first]
                if label == "PER" and last - first > 1 and word[:1].isupper() and word.isalpha():
                    counts[word] += 1
    for sent in crf.read_iob2(data / ZH_SOURCE):
        for first, _last, label in crf.tags_to_spans(sent.tags):
            if label == "PER":
                counts[sent.words[first][0]] += 1
    rows = sorted((w, c) for w, c in counts.items() if c >= FIRST_NAME_MIN_COUNT)
    with out.open("w", encoding="utf-8") as fh:
        fh.write("# First names (and Chinese surnames) that start person names in the Universal NER\n"
                 "# training sets hr_set, sr_set, sk_snk, pt_bosque, zh_gsd (CC BY-SA 4.0).\n"
                 f"# Built by scripts/train_ner.py; count >= {FIRST_NAME_MIN_COUNT}. name<TAB>count\n")
        for w, c in rows:
            fh.write(f"{w}\t{c}\n")
    crf.word_list.cache_clear()
    return len(rows)


def fmt(result: dict) -> str:
    parts = [f"F1 {result['overall']['f1']:.3f} (P {result['overall']['precision']:.3f} "
             f"R {result['overall']['recall']:.3f}, n={result['overall']['support']})"]
    for label in crf.LABELS:
        r = result[label]
        parts.append(f"{label} {r['f1']:.3f}/{r['support']}")
    return "  ".join(parts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "uner")
    ap.add_argument("--out", type=Path, default=ROOT / "src" / "tidings" / "models")
    ap.add_argument("--only", default="", help="comma-separated model names (hbs, sk, pt, zh)")
    ap.add_argument("--eval-only", action="store_true", help="score the models in --out, do not train")
    ap.add_argument("--all", action="store_true", help="also score the spaCy/natasha/fallback recognisers")
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        print(f"no UNER data at {args.data}: pass --data", file=sys.stderr)
        return 2
    names_file = ROOT / "src" / "tidings" / "data" / "names" / "first_names.tsv"
    if not args.eval_only:
        print(f"first names: {build_first_names(args.data, names_file)} -> {names_file}")
    wanted = [m for m in args.only.split(",") if m] or list(MODELS)
    for model in wanted:
        spec = MODELS[model]
        path = args.out / f"{model}.crfsuite"
        if not args.eval_only:
            t0 = time.time()
            sentences = [s for f in spec["train"] for s in crf.read_iob2(args.data / f)]
            crf.train(sentences, spec["config"], path, spec["params"])
            print(f"{model}: trained on {len(sentences)} sentences in {time.time() - t0:.0f}s, "
                  f"{path.stat().st_size / 1e6:.1f} MB")
        tagger = crf.CRFTagger(path)
        recogniser = (lambda text, t=tagger: ner._via_latin(text, t)) if model == "hbs" else tagger
        for lang, dev in spec["dev"].items():
            print(f"  {lang:3} {dev:22} {fmt(ner.evaluate_iob2(args.data / dev, lang, recogniser))}")
    if args.all:
        for lang, dev in OTHER_DEV:
            print(f"{lang:3} {ner.available().get(lang, 'fallback'):40} {dev:18} "
                  f"{fmt(ner.evaluate_iob2(args.data / dev, lang))}")
        for lang, dev in FALLBACK_DEV:
            fb = ner.FallbackRecogniser(lang)
            print(f"{lang:3} {'fallback':40} {dev:18} {fmt(ner.evaluate_iob2(args.data / dev, lang, fb))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
