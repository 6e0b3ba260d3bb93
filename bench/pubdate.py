"""How often the dateline and URL rules find a publication date, and how often it is right.

    python bench/pubdate.py [../shared/data/crisis_es_fr_it.jsonl]

Real articles with their dates removed: each text goes through tidings.pubdate as an undated
input would (its dateline; the records have no URL), and the date found is compared with the
record's own ``date`` (right = within one day: a dateline names the local day the story was filed, the record
the day it was published, in another time zone). Prints the share found and the share
of those that are right. The rules were written from the examples in the issue and the sample
corpus, never from this file.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from tidings.config import default_settings
from tidings.ingest import _record_document
from tidings.pubdate import publication_date


def main(path: Path) -> None:
    # ingested two days after publication, as a monitor would (a dateline without a year takes
    # the latest such day before the ingest time: an archive ingested years later gets it wrong)
    found, right, total = Counter(), Counter(), Counter()
    wrong: list[str] = []
    section = default_settings().section("ingest")
    for line in path.open(encoding="utf-8"):
        rec = json.loads(line)
        lang = rec["lang"]
        # read as `tidings ingest` reads a JSONL record without a date: the first line becomes the title
        doc = _record_document({"id": rec["id"], "text": rec["text"], "lang": lang}, b"", rec["id"], section)
        truth = date.fromisoformat(rec["date"][:10])
        now = datetime.combine(truth, datetime.min.time(), timezone.utc) + timedelta(days=2)
        when, source = publication_date(doc, lang, now=now)
        total[lang] += 1
        if source == "ingest-time":
            continue
        found[lang] += 1
        if -1 <= (truth - when.date()).days <= 1:
            right[lang] += 1
        else:
            wrong.append(f"{rec['id']}: {source} {when.date()} vs {truth}: {rec['text'][:80]!r}")
    for lang in sorted(total) + ["all"]:
        t = sum(total.values()) if lang == "all" else total[lang]
        f = sum(found.values()) if lang == "all" else found[lang]
        r = sum(right.values()) if lang == "all" else right[lang]
        print(f"{lang:4} {t:5} articles  found {f:4} ({f / t:.1%})  right {r:4} ({(r / f if f else 0):.1%} of found)")
    for w in wrong[:20]:
        print("  wrong", w)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
              / "crisis_es_fr_it.jsonl"))
