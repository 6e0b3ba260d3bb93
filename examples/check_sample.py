"""Check that the sample corpus in examples/sample/ is valid and matches expected_stories.json.

    python examples/check_sample.py          # prints one line per article, exits 1 on any problem

Standard library only, so it runs before the package is installed. It checks what the ingest,
cleaning, dedup and clustering tests rely on: every JSONL line parses and has the documented
fields, the cp1250/cp1251 files really are in those encodings, the HTML pages are well-formed
and carry ``article:published_time``, the RSS feed is RSS 2.0 with three complete items, and
every article is mapped to exactly one story in expected_stories.json (and nothing else is).
"""

from __future__ import annotations

import difflib
import json
import re
import sys
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
SAMPLE = HERE / "sample"
EXPECTED = HERE / "expected_stories.json"

JSONL_FIELDS = {"id", "title", "text", "url", "source", "lang", "published_at"}
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
# Word-count bounds from the corpus brief: articles 120-300 words; RSS items are short paragraphs.
ARTICLE_WORDS = (120, 300)
FEED_WORDS = (60, 160)
STORY_SIZE = (4, 8)          # distinct articles per multi-article story (duplicates not counted)
STORY_MIN_LANGS = 3
CORPUS_MIN_LANGS = 6
NEAR_DUP_MIN_RATIO = 0.9     # difflib ratio between a near-duplicate and its original

problems: list[str] = []


def fail(where: str, what: str) -> None:
    problems.append(f"{where}: {what}")


def words(text: str) -> int:
    return len(text.split())


def check_jsonl(path: Path) -> dict[str, dict]:
    records: dict[str, dict] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        where = f"{path.name}:{number}"
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            fail(where, f"not JSON ({exc})")
            continue
        if set(rec) != JSONL_FIELDS:
            fail(where, f"fields {sorted(rec)} != {sorted(JSONL_FIELDS)}")
        if not all(isinstance(rec.get(k), str) and rec.get(k) for k in JSONL_FIELDS):
            fail(where, "every field must be a non-empty string")
            continue
        if not ISO_Z.match(rec["published_at"]):
            fail(where, f"published_at {rec['published_at']!r} is not ISO 8601 with time and Z")
        else:
            datetime.fromisoformat(rec["published_at"].replace("Z", "+00:00"))
        if not rec["url"].startswith("https://example-"):
            fail(where, f"url {rec['url']!r} is not on a fictional example- domain")
        if rec["id"] in records:
            fail(where, f"duplicate id {rec['id']!r}")
        records[rec["id"]] = rec
    return records


def decode_txt(path: Path) -> str | None:
    """Decode a .txt file the way its name says, and prove the encoding is really that one."""
    data = path.read_bytes()
    name = path.name
    try:
        if "cp1250" in name or "cp1251" in name:
            encoding = "cp1250" if "cp1250" in name else "cp1251"
            try:
                data.decode("utf-8")
                fail(name, f"decodes as UTF-8, so it is not really {encoding}")
            except UnicodeDecodeError:
                pass
            text = data.decode(encoding)
            marker = "[čćšžđČĆŠŽĐ]" if encoding == "cp1250" else "[а-яА-ЯёЁ]"
            if not re.search(marker, text):
                fail(name, f"no {encoding} letters found")
        elif "utf8bom" in name:
            if not data.startswith(b"\xef\xbb\xbf"):
                fail(name, "no UTF-8 byte order mark")
            text = data.decode("utf-8-sig")
        else:
            if data.startswith(b"\xef\xbb\xbf"):
                fail(name, "unexpected byte order mark")
            text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        fail(name, f"cannot decode ({exc})")
        return None
    lines = text.split("\n")
    if len(lines) < 3 or not lines[0].strip() or lines[1].strip() or not "".join(lines[2:]).strip():
        fail(name, "expected: title line, blank line, body")
    return text


def check_html(path: Path) -> tuple[str, str] | None:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        fail(path.name, f"not well-formed ({exc})")
        return None
    title = root.findtext(".//head/title") or ""
    published = [m.get("content") for m in root.iter("meta") if m.get("property") == "article:published_time"]
    if not title.strip():
        fail(path.name, "no <title>")
    if len(published) != 1:
        fail(path.name, "needs exactly one article:published_time")
    else:
        datetime.fromisoformat(published[0].replace("Z", "+00:00"))
    article = root.find(".//article")
    paras = [] if article is None else [p for p in article.iter("p") if (p.text or "").strip()]
    if len(paras) < 3:
        fail(path.name, "no <article> with paragraphs")
    body_div = None if article is None else article.find(".//div[@class='story-body']")
    if body_div is None:
        fail(path.name, "no <div class=\"story-body\"> inside <article>")
        return None
    body = " ".join(p.text for p in body_div.iter("p") if p.text)
    for part in ("nav", "footer"):
        if root.find(f".//{part}") is None:
            fail(path.name, f"no <{part}>")
    return title, body


def check_feed(path: Path) -> dict[str, str]:
    items: dict[str, str] = {}
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        fail(path.name, f"not well-formed ({exc})")
        return items
    if root.tag != "rss" or root.get("version") != "2.0":
        fail(path.name, "not RSS 2.0")
    for n, item in enumerate(root.iter("item"), 1):
        fields = {k: (item.findtext(k) or "").strip() for k in ("title", "link", "pubDate", "description")}
        missing = [k for k, v in fields.items() if not v]
        if missing:
            fail(f"{path.name} item {n}", f"missing {missing}")
            continue
        parsedate_to_datetime(fields["pubDate"])
        items[fields["link"]] = re.sub(r"<[^>]+>", "", fields["description"])
    if len(items) != 3:
        fail(path.name, f"expected 3 items, found {len(items)}")
    return items


def main() -> int:
    expected = json.loads(EXPECTED.read_text(encoding="utf-8"))
    gold: dict[str, str] = expected["articles"]
    details: dict[str, dict] = expected["details"]
    duplicates: dict[str, dict] = expected["duplicates"]

    texts: dict[str, str] = {}      # article key -> "title\n\nbody"
    counts: dict[str, int] = {}
    sources: dict[str, str] = {}
    records = check_jsonl(SAMPLE / "articles.jsonl")
    for key, rec in records.items():
        texts[key] = f"{rec['title']}\n\n{rec['text']}"
        counts[key] = words(rec["text"])
        sources[key] = rec["source"]
        if details.get(key, {}).get("lang") not in (None, rec["lang"]):
            fail(key, "lang differs from expected_stories.json")
    for path in sorted(SAMPLE.iterdir()):
        if path.suffix == ".txt":
            text = decode_txt(path)
            if text is not None:
                texts[path.name] = text.strip()
                counts[path.name] = words(text.split("\n", 2)[2])
        elif path.suffix == ".html":
            got = check_html(path)
            if got:
                texts[path.name] = got[1]
                counts[path.name] = words(got[1])
        elif path.name == "feed.xml":
            for link, desc in check_feed(path).items():
                texts[link] = desc
                counts[link] = words(desc)
        elif path.name != "articles.jsonl":
            fail(path.name, "unexpected file in sample/")

    for key in sorted(set(texts) ^ set(gold)):
        fail(key, "in the corpus but not in expected_stories.json" if key in texts else "expected but not found")
    for key, story in gold.items():
        if story not in expected["stories"]:
            fail(key, f"unknown story {story!r}")
    for key, n in counts.items():
        lo, hi = FEED_WORDS if key.startswith("http") else ARTICLE_WORDS
        if not lo <= n <= hi:
            fail(key, f"{n} words, outside {lo}-{hi}")

    for key, dup in duplicates.items():
        original = dup["of"]
        if key not in texts or original not in texts:
            fail(key, "duplicate or its original is missing")
            continue
        if gold.get(key) != gold.get(original):
            fail(key, "a duplicate must have its original's story")
        a, b = (" ".join(texts[k].split()) for k in (key, original))
        if dup["kind"] == "exact" and a != b:
            fail(key, f"not an exact copy of {original}")
        if dup["kind"] == "near":
            ratio = difflib.SequenceMatcher(None, a, b).ratio()
            if a == b or ratio < NEAR_DUP_MIN_RATIO or sources.get(key) == sources.get(original):
                fail(key, f"not a near-duplicate of {original} from another outlet (ratio {ratio:.3f})")

    members: dict[str, list[str]] = defaultdict(list)
    for key, story in gold.items():
        if key not in duplicates:
            members[story].append(key)
    for story, keys in sorted(members.items()):
        langs = {details[k]["lang"] for k in keys}
        if story.startswith("single-"):
            if len(keys) != 1:
                fail(story, f"singleton with {len(keys)} articles")
        elif not (STORY_SIZE[0] <= len(keys) <= STORY_SIZE[1] and len(langs) >= STORY_MIN_LANGS):
            fail(story, f"{len(keys)} articles in {sorted(langs)}")
        print(f"{story:22s} {len(keys)} articles  {' '.join(sorted(langs))}")
    all_langs = Counter(details[k]["lang"] for k in gold if k not in duplicates)
    if len(all_langs) < CORPUS_MIN_LANGS:
        fail("corpus", f"only {len(all_langs)} languages")
    print(f"{len(gold)} entries ({len(gold) - len(duplicates)} distinct articles, {len(duplicates)} duplicates); "
          f"languages: {dict(sorted(all_langs.items()))}")

    for problem in problems:
        print("PROBLEM", problem, file=sys.stderr)
    print("OK" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
