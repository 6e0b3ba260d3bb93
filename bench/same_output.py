"""Same output before and after a speed change: ingest a slice, dump what the store holds, compare.

    python bench/same_output.py dump --limit 2000 --out /tmp/after.json
    # the code of another commit: export it, put this script in its bench/ and run it there
    git archive e3073a4 | tar -x -C /tmp/base && cp bench/same_output.py /tmp/base/bench/
    TIDINGS_CACHE=$PWD/.bench-cache python /tmp/base/bench/same_output.py dump --limit 2000 --out /tmp/before.json
    python bench/same_output.py compare /tmp/before.json /tmp/after.json

The script imports the ``src/tidings`` beside it (as bench/throughput.py does), so which code
runs is where the script is; the dump names it.

``dump`` ingests the first N articles of a corpus (``replay10k`` by default, as bench/throughput.py
loads it; ``crisis``: the crisis file's first N plus the sample corpus) through
``Monitor.add_documents`` with the default settings into a temporary store, then writes every
article's language, title, text hash, date and story, the entity table, the mentions, dates and
quotes (in a stable order), the memberships and the stories (not the times of ingestion) as JSON.
``compare`` prints the first differences per table and exits 1 when the two dumps differ.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "src"))

#: table -> the query whose rows are compared (ordered so that equal contents give equal lists)
QUERIES = {
    "articles": "SELECT id, lang, round(lang_confidence, 6), title, text, published_at, content_hash, "
                "duplicate_of, story_id FROM articles ORDER BY id",
    "entities": "SELECT id, label, name, geonames_id, country, lat, lon FROM entities ORDER BY id",
    "mentions": "SELECT article_id, entity_id, label, text, start, \"end\", in_title FROM mentions "
                "ORDER BY article_id, start, \"end\", entity_id, label",
    "date_mentions": "SELECT article_id, text, start_char, end_char, start, \"end\", granularity "
                     "FROM date_mentions ORDER BY article_id, start_char, end_char",
    "quotes": "SELECT article_id, text, start_char, end_char, speaker_entity_id, speaker FROM quotes "
              "ORDER BY article_id, start_char, end_char",
    "memberships": "SELECT article_id, story_id, round(score, 6) FROM memberships ORDER BY article_id",
    "stories": "SELECT id, title, size, langs, merged_into FROM stories ORDER BY id",
}


def dump(corpus: str, limit: int, out: Path, overrides: dict[str, str] | None = None) -> None:
    import tidings
    from throughput import load_corpus

    from tidings.config import Settings
    from tidings.pipeline import Monitor

    if corpus == "crisis":
        docs = load_corpus("crisis", limit) + load_corpus("sample", None)
    else:
        docs = load_corpus(corpus, limit)
    if not docs:
        raise SystemExit(f"{corpus}: no articles (../shared/data missing?)")
    with tempfile.TemporaryDirectory() as tmp:
        # only --set changes the settings (the environment is ignored), as in bench/throughput.py
        env = {f"TIDINGS_{key.replace('.', '__').upper()}": value for key, value in (overrides or {}).items()}
        monitor = Monitor(Path(tmp) / "same.db", Settings.load(env=env))
        t = time.perf_counter()
        monitor.add_documents(docs, batch_size=64)
        seconds = time.perf_counter() - t
        conn = monitor.store.conn
        tables = {}
        for name, sql in QUERIES.items():
            rows = [list(r) for r in conn.execute(sql).fetchall()]
            if name == "articles":  # the text itself is long: its hash says the same
                rows = [r[:4] + [hashlib.sha256(r[4].encode()).hexdigest()] + r[5:] for r in rows]
            tables[name] = rows
        monitor.close()
    out.write_text(json.dumps({"code": str(Path(tidings.__file__).parent), "corpus": corpus,
                               "articles": len(docs), "tables": tables}, ensure_ascii=False))
    print(f"{len(docs)} {corpus} articles ingested in {seconds:.0f} s by {Path(tidings.__file__).parent}; "
          + ", ".join(f"{k} {len(v)}" for k, v in tables.items()) + f" -> {out}")


def compare(a: Path, b: Path, shown: int = 5) -> bool:
    da, db = json.loads(a.read_text()), json.loads(b.read_text())
    same = da["articles"] == db["articles"] and da["corpus"] == db["corpus"]
    if not same:
        print(f"different inputs: {da['corpus']} x{da['articles']} vs {db['corpus']} x{db['articles']}")
    for name in QUERIES:
        ra, rb = da["tables"].get(name, []), db["tables"].get(name, [])
        if ra == rb:
            print(f"  {name:<14} identical ({len(ra)} rows)")
            continue
        same = False
        sa, sb = {json.dumps(r) for r in ra}, {json.dumps(r) for r in rb}
        print(f"  {name:<14} DIFFERENT: {len(ra)} vs {len(rb)} rows, {len(sa - sb)} only in the first, "
              f"{len(sb - sa)} only in the second")
        for r in sorted(sa - sb)[:shown]:
            print(f"    - {r}")
        for r in sorted(sb - sa)[:shown]:
            print(f"    + {r}")
    print("SAME OUTPUT" if same else "OUTPUTS DIFFER")
    return same


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump", help="ingest a slice and write what the store holds as JSON")
    d.add_argument("--corpus", choices=["replay10k", "crisis"], default="replay10k")
    d.add_argument("--limit", type=int, default=2000, help="first N articles (crisis: plus the sample)")
    d.add_argument("--out", type=Path, required=True)
    d.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a setting, e.g. --set entities.spacy_kept_words=20000 (repeatable)")
    c = sub.add_parser("compare", help="compare two dumps (exit 1 when they differ)")
    c.add_argument("first", type=Path)
    c.add_argument("second", type=Path)
    args = parser.parse_args()
    if args.command == "dump":
        overrides = dict(item.partition("=")[::2] for item in args.set)
        dump(args.corpus, args.limit, args.out, overrides)
    else:
        raise SystemExit(0 if compare(args.first, args.second) else 1)


if __name__ == "__main__":
    main()
