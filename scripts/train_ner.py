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
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from tidings import crf, ner  # noqa: E402

# model -> (training files, dev files, feature config, training parameters).
# Chosen on the dev sets (figures and what did not help: docs/entities.md, "Name recognition
# figures"):
# - every model gets an entity lexicon built from its training files (jackknifed in training,
#   crf.EntityLexicon); word-level models also get document features (crf.DocContext);
# - hbs and sk get a separate country-name feature (neutral for hbs and pt, +0.02 for sk);
# - Slovak trains on sk_snk plus hr_set and sr_set: sk_snk-train is mostly children's fiction
#   (Maja, Aladin, Mauglí: 2,277 PER, 277 LOC, 153 ORG names) while the dev set is news and
#   encyclopaedia text, so the Croatian/Serbian news supply the places and organisations;
# - the document vote stays off: +0.005 on hr_set-dev, -0.007 on sr, -0.006 sk, -0.003 pt;
# - c1=0.1/c2=0.01 keeps the word models under 2 MB (c1=c2=0.05: +0.002 on hr/sr for 2.6 MB;
#   L2-only c1=0 gives 8.5 MB for no gain); Chinese gains a little from c1=0.02.
# - hbs and sk use prefixes and suffixes of up to five letters (session 4; four before): bare CRF
#   hr 0.794 -> 0.804, sr 0.840 -> 0.842, sk 0.656 -> 0.661 (six letters: hr 0.800, sr 0.840;
#   pt 0.759 -> 0.758, so pt keeps four). Case endings plus a stem's last letters.
_WORDS = {"inflected": True, "conjunctions": True, "doc_features": True, "countries": True, "affixes": 5}
_PARAMS = crf.TrainParams(c1=0.1, c2=0.01, max_iterations=200)
MODELS: dict[str, dict] = {
    "hbs": {
        "train": ["hr_set-train.iob2", "sr_set-train.iob2"],
        "dev": {"hr": "hr_set-dev.iob2", "sr": "sr_set-dev.iob2"},
        "config": crf.FeatureConfig(lang="hr", entity_lexicon="crf_hbs_lexicon.tsv", **_WORDS),
        "params": _PARAMS,
    },
    "sk": {
        "train": ["sk_snk-train.iob2", "hr_set-train.iob2", "sr_set-train.iob2"],
        "dev": {"sk": "sk_snk-dev.iob2"},
        "config": crf.FeatureConfig(lang="sk", entity_lexicon="crf_sk_lexicon.tsv", **_WORDS),
        # Stronger L2 (session 4), bare CRF on sk_snk-dev by (c1, c2): (0.1, 0.01) 0.661, (0.1, 0.1)
        # 0.664, (0.05, 0.2) 0.668 (5.0 MB), (0.1, 0.2) 0.669 (3.8 MB), (0.2, 0.2) 0.656.
        "params": crf.TrainParams(c1=0.1, c2=0.2, max_iterations=200),
    },
    "pt": {
        "train": ["pt_bosque-train.iob2"],
        "dev": {"pt": "pt_bosque-dev.iob2"},
        "config": crf.FeatureConfig(lang="pt", conjunctions=True, doc_features=True,
                                    entity_lexicon="crf_pt_lexicon.tsv"),
        # Stronger L2 (session 4): c1/c2 0.1/0.01 0.759, 0.05/0.05 0.765, 0.05/0.1 0.766,
        # 0.1/0.1 0.764, 0.1/0.5 0.767, 0.05/0.2 0.769 (3.3 MB instead of 1.4); hbs with 0.1/0.2:
        # hr 0.804 -> 0.795, so hbs keeps its parameters.
        "params": crf.TrainParams(c1=0.05, c2=0.2, max_iterations=200),
    },
    "zh": {
        "train": ["zh_gsd-train.iob2"],
        "dev": {"zh": "zh_gsd-dev.iob2"},
        # jieba part of speech (with the character's place in its word), the parts of speech of
        # the words around it and the word itself; Simplified characters throughout; B/I/E/S
        # tags; 500 iterations: 0.574 -> 0.618 on zh_gsd-dev (docs/entities.md, "Name
        # recognition figures").
        "config": crf.FeatureConfig(lang="zh", char_level=True, entity_lexicon="crf_zh_lexicon.tsv",
                                    jieba="pos,ctx,word", simplified=True, bioes=True),
        "params": crf.TrainParams(c1=0.02, c2=0.01, max_iterations=500),
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


#: An abbreviation must end with its full stop inside a sentence this often in the training
#: files to be kept whole by the tokeniser.
ABBREVIATION_MIN_COUNT = 1
_ABBREVIATION = re.compile(r"^[^\W\d_]+(?:\.[^\W\d_]+)*\.$")


def build_abbreviations(data: Path, out: Path) -> int:
    """Words written with their full stop as one token (``dr.``, ``d.o.o.``, ``tzv.``) in the
    Latin-script training files, not counting sentence-final ones, with the languages whose
    treebank does so, so the tokeniser splits text as UD did there (Slovak SNK splits every
    stop). The row ``X.`` stands for initials (``P. Santos``): listed for a language whose
    treebank mostly keeps an initial and its stop together."""
    counts: dict[str, Counter[str]] = {}
    initials: Counter[str] = Counter()
    for name in NAME_SOURCES:
        lang = name[:2]
        counts[lang] = Counter()
        for sent in crf.read_iob2(data / name):
            words = sent.words
            for k, word in enumerate(words[:-1]):
                if len(word) == 2 and word[0].isupper() and word[1] == ".":
                    initials[lang] += 1
                elif len(word) == 1 and word.isupper() and words[k + 1] == ".":
                    initials[lang] -= 1
                elif _ABBREVIATION.match(word):
                    counts[lang][word.lower()] += 1
    langs_of: dict[str, set[str]] = defaultdict(set)
    for lang, table in counts.items():
        for word, c in table.items():
            if c >= ABBREVIATION_MIN_COUNT:
                langs_of[word].add(lang)
        if initials[lang] > 0:
            langs_of["X."].add(lang)
    with out.open("w", encoding="utf-8") as fh:
        fh.write("# Abbreviations kept whole with their full stop by crf.tokenize, as in the Universal NER\n"
                 "# training sets hr_set, sr_set, sk_snk, pt_bosque (CC BY-SA 4.0). X. = initials.\n"
                 f"# Built by scripts/train_ner.py; count >= {ABBREVIATION_MIN_COUNT}.\n"
                 "# abbreviation<TAB>languages\n")
        for word in sorted(langs_of):
            fh.write(f"{word}\t{','.join(sorted(langs_of[word]))}\n")
    crf.abbreviations.cache_clear()
    return len(langs_of)


def build_lexicon(model: str, spec: dict, sentences: list[crf.Sentence], names_dir: Path) -> int:
    """Write the model's entity lexicon (all of its training data) to data/names/."""
    name = spec["config"].entity_lexicon
    if not name:
        return 0
    lexicon = crf.EntityLexicon.from_sentences(sentences, spec["config"].char_level)
    lexicon.save(names_dir / name,
                 f"Entity lexicon of the {model} CRF: what the Universal NER training files\n"
                 f"{', '.join(spec['train'])} (CC BY-SA 4.0) say about each word form.\n"
                 "Built by scripts/train_ner.py; kind<TAB>key<TAB>value, see crf.EntityLexicon.")
    crf.load_lexicon.cache_clear()
    return sum(len(t) for t in lexicon.tables.values())


def raw_score(tagger: crf.CRFTagger, path: Path) -> dict:
    """Exact-span scores of the bare tagger on the gold tokens and sentences of ``path``: the
    ceiling the end-to-end figure (own tokeniser, sentence splitter, clean-up) is compared with."""
    sentences = crf.read_iob2(path)
    docs: dict[str, list[list[str]]] = defaultdict(list)
    for sent in sentences:
        docs[sent.doc].append(sent.words)
    contexts = {key: crf.DocContext(words) for key, words in docs.items()}
    pairs = []
    for sent in sentences:
        doc = contexts[sent.doc]
        if tagger.config.char_level:
            sent = crf.to_char_level(sent)
        pred = tagger.tag_words(sent.words, doc)
        pairs.append((set(crf.tags_to_spans(sent.tags)), set(crf.tags_to_spans(pred))))
    return ner.score(pairs)


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
    ap.add_argument("--raw", action="store_true",
                    help="also score the bare CRF on the gold tokens and sentences")
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        print(f"no UNER data at {args.data}: pass --data", file=sys.stderr)
        return 2
    names_file = ROOT / "src" / "tidings" / "data" / "names" / "first_names.tsv"
    if not args.eval_only:
        print(f"first names: {build_first_names(args.data, names_file)} -> {names_file}")
        abbr_file = names_file.parent / "abbreviations.txt"
        print(f"abbreviations: {build_abbreviations(args.data, abbr_file)} -> {abbr_file}")
    wanted = [m for m in args.only.split(",") if m] or list(MODELS)
    for model in wanted:
        spec = MODELS[model]
        path = args.out / f"{model}.crfsuite"
        if not args.eval_only:
            t0 = time.time()
            sentences = [s for f in spec["train"] for s in crf.read_iob2(args.data / f)]
            entries = build_lexicon(model, spec, sentences, names_file.parent)
            if entries:
                print(f"{model}: lexicon {spec['config'].entity_lexicon}, {entries} entries")
            crf.train(sentences, spec["config"], path, spec["params"])
            print(f"{model}: trained on {len(sentences)} sentences in {time.time() - t0:.0f}s, "
                  f"{path.stat().st_size / 1e6:.1f} MB")
        tagger = crf.CRFTagger(path)
        recogniser = (lambda text, t=tagger: ner._via_latin(text, t)) if model == "hbs" else tagger
        for lang, dev in spec["dev"].items():
            print(f"  {lang:3} {dev:22} {fmt(ner.evaluate_iob2(args.data / dev, lang, recogniser))}")
            if args.raw:
                print(f"  {lang:3} {'(gold tokens)':22} {fmt(raw_score(tagger, args.data / dev))}")
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
