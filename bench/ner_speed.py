#!/usr/bin/env python3
"""Throughput of ``tidings.ner.recognise`` per language, in articles per second on one core.

    python bench/ner_speed.py [--data ../shared/data] [--words 400] [--n 40] [--langs hr,en,es]

Texts: 400-word cuts of real articles. es/fr/it come from crisis_es_fr_it.jsonl; hr and en
from the seed articles (repeated to 400 words); sr is the Croatian seed transliterated to
Cyrillic (exercises the transliteration path); de/ru/zh join SemEval-2022 task 8 texts
(Chinese: 800 characters); pt and sk reuse the English seed to measure recogniser cost only. Model loading is timed apart and excluded from the rate.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from tidings import ner  # noqa: E402

SEEDS = {"hr": "000_81ffc60cca3810fd.txt", "en": "004_03a04a2913114bf7.txt"}


def cut(text: str, words: int) -> str:
    parts = text.split()
    while len(parts) < words:
        parts = parts + parts
    return " ".join(parts[:words])


def texts_for(lang: str, data: Path, words: int, n: int) -> list[str]:
    if lang in ("es", "fr", "it"):
        out = []
        with (data / "crisis_es_fr_it.jsonl").open(encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                if rec["lang"] == lang and len(rec["text"].split()) >= words:
                    out.append(cut(rec["text"], words))
                    if len(out) == n:
                        break
        return out
    if lang in ("de", "ru", "zh", "pl", "ar", "tr"):
        # SemEval-2022 task 8 texts are ~1,000 characters: join consecutive ones to 400 words
        # (Chinese: 800 characters, about the same reading length).
        pool = []
        with (data / "semeval2022_t8.dev.jsonl").open(encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                for side in ("1", "2"):
                    if rec[f"lang{side}"] == lang:
                        pool.append(rec[f"text{side}"])
        out, buf = [], ""
        for t in pool:
            buf += " " + t
            long_enough = len(buf) >= 2 * words if lang == "zh" else len(buf.split()) >= words
            if long_enough:
                out.append(buf[:2 * words] if lang == "zh" else cut(buf, words))
                buf = ""
                if len(out) == n:
                    break
        return out
    if lang == "sr":
        import cyrtranslit

        return [cyrtranslit.to_cyrillic(t, "sr") for t in texts_for("hr", data, words, n)]
    seed = SEEDS.get(lang, SEEDS["en"])
    text = (data.parent / "seeds" / seed).read_text(encoding="utf-8")
    # Rotate the start so that per-form caches do not make every text identical.
    base = text.split()
    return [cut(" ".join(base[i * 7:] + base[:i * 7]), words) for i in range(n)]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--words", type=int, default=400)
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--langs", default="hr,sr,en,es,fr,it,de,ru,pt,sk,zh")
    args = ap.parse_args()
    print(f"{'lang':5}{'recogniser':45}{'load s':>8}{'articles/s':>12}{'spans/art':>11}")
    for lang in args.langs.split(","):
        texts = texts_for(lang, args.data, args.words, args.n)
        if not texts:
            print(f"{lang:5}no texts")
            continue
        t0 = time.perf_counter()
        ner.recognise(texts[0], lang)
        load = time.perf_counter() - t0
        t0 = time.perf_counter()
        spans = sum(len(ner.recognise(t, lang)) for t in texts)
        rate = len(texts) / (time.perf_counter() - t0)
        name = ner.available().get(lang, ner.available()[ner.FALLBACK])
        print(f"{lang:5}{name[:44]:45}{load:8.2f}{rate:12.1f}{spans / len(texts):11.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
