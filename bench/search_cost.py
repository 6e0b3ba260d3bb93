"""Time of the web search page against the length of the query, before and after the FTS query
keeps each distinct word once (docs/reliability.md). The store is tests/conftest.py's three-story
API store; "before" replays the old query builder (every word quoted, repeats kept).

    python bench/search_cost.py --words 100 400 1600 5000 --before-max 1600
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]


def old_fts_query(text: str) -> str:
    words = re.findall(r"\w+", text, flags=re.UNICODE)
    return " ".join('"' + w.replace('"', "") + '"' for w in words)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--words", type=int, nargs="+", default=[100, 400, 1600, 5000])
    parser.add_argument("--before-max", type=int, default=1600, help="skip 'before' above this many words")
    args = parser.parse_args()
    from fastapi.testclient import TestClient

    from conftest import build_api_store
    from tidings import queries
    from tidings.api import create_app
    from tidings.config import Settings

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "api.db"
        build_api_store(db)
        settings = Settings.load(env={}, overrides={"server": {
            "max_query_chars": 10**7, "max_param_chars": 10**7, "max_query_string_bytes": 10**8,
            "rate_limit_per_minute": 0, "request_timeout": 0}})
        new = queries.fts_query
        print("words  before_s  after_s")
        with TestClient(create_app(str(db), settings)) as client:
            for n in args.words:
                q = " ".join(["aleppo"] * n)
                row = []
                for builder, skip in ((old_fts_query, n > args.before_max), (new, False)):
                    if skip:
                        row.append(None)
                        continue
                    queries.fts_query = builder
                    started = time.perf_counter()
                    assert client.get("/search", params={"q": q}).status_code == 200
                    row.append(time.perf_counter() - started)
                queries.fts_query = new
                print(f"{n:5d}  " + "  ".join("   -    " if t is None else f"{t:8.3f}" for t in row), flush=True)


if __name__ == "__main__":
    main()
