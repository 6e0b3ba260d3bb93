#!/usr/bin/env python3
"""Cost of the small-town table (issue #15): gazetteer build time, then the first use of the
towns of 1,000 to 15,000 people (tidings.towns), with the process's peak RSS after each.

    PYTHONPATH=src python bench/gazetteer_towns.py
"""

from __future__ import annotations

import resource
import time


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    t = time.perf_counter()
    from tidings import places

    gaz = places.gazetteer()
    print(f"gazetteer build {time.perf_counter() - t:.2f} s, peak RSS {_rss_mb():.0f} MB, {len(gaz.places)} places")
    t = time.perf_counter()
    names = len(gaz.small)
    print(f"towns first use {time.perf_counter() - t:.2f} s, {names} town names, peak RSS {_rss_mb():.0f} MB")
    t = time.perf_counter()
    found = sum(gaz.get_exact(n) is not None for n in ("Kufstein", "Grindavík", "Schwaz", "Wörgl", "Keflavík"))
    print(f"5 lookups {1000 * (time.perf_counter() - t):.2f} ms, {found} found")


if __name__ == "__main__":
    main()
