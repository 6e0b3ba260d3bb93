"""Story clustering on the bundled sample corpus: whole articles in 9 languages, labelled by hand.

    python bench/sample_clustering.py                                  # shipped settings
    python bench/sample_clustering.py --set entity_weight=0 --set entity_weight=0.2

Ingests examples/sample into a temporary store through the real pipeline (as
tests/test_pipeline_sample.py does) once per ``--set`` value of a ``[cluster]`` setting, and
prints BCubed and cross-lingual BCubed precision/recall/F1 against
examples/expected_stories.json, then a one-line summary. OG2021 has titles only; this is the
only labelled set of whole articles here (36 articles, 12 stories), so read its figures as
indicative. Undated .txt files get the ingest time as their date and cannot join their story.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import tidings
from tidings.config import Settings
from tidings.metrics import clustering_report

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "sample"
EXPECTED = ROOT / "examples" / "expected_stories.json"


def run(overrides: dict[str, float]) -> dict:
    """Ingest the sample with these ``[cluster]`` overrides; the clustering report."""
    expected = json.loads(EXPECTED.read_text(encoding="utf-8"))["articles"]
    settings = Settings.load(env={}, overrides={"cluster": overrides} if overrides else None)
    with tempfile.TemporaryDirectory() as tmp:
        monitor = tidings.open(Path(tmp) / "sample.db", settings=settings)
        monitor.ingest([SAMPLE])
        gold, predicted, langs = {}, {}, {}
        for row in monitor.store.conn.execute("SELECT * FROM articles WHERE duplicate_of IS NULL"):
            key = next(k for k in (row["external_id"], Path(row["source"]).name, row["url"]) if k in expected)
            gold[key] = expected[key]
            predicted[key] = monitor.store.resolve_story(row["story_id"])
            langs[key] = row["lang"]
        monitor.close()
    return clustering_report(gold, predicted, langs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a [cluster] setting to try, e.g. entity_weight=0.2 (repeatable: one run each)")
    args = parser.parse_args()
    runs = [{}] + [{key.strip(): float(value)} for key, _, value in (item.partition("=") for item in args.set)]
    summary = []
    for overrides in runs:
        report = run(overrides)
        b, x = report["bcubed"], report["cross_lingual_bcubed"]
        name = ", ".join(f"{k}={v}" for k, v in overrides.items()) or "shipped settings"
        print(f"{name:28s} B3 P {b['precision']:.3f} R {b['recall']:.3f} F1 {b['f1']:.3f}   "
              f"xl P {x['precision']:.3f} R {x['recall']:.3f} F1 {x['f1']:.3f}")
        summary.append(f"{name}: {b['f1']:.3f}/{x['f1']:.3f}")
    print("summary: sample bcubed/xl f1 " + "; ".join(summary))


if __name__ == "__main__":
    main()
