"""``tidings evaluate``: quality figures on labelled data, through the real pipeline.

* clustering: replay a gold JSONL (OG2021 style) in publication-time order into a temporary
  store and score the stories with BCubed and pairwise P/R/F1 (overall, per language,
  cross-lingual);
* similarity: Pearson/Spearman of the pairwise score against human ratings (SemEval-2022 Task 8);
* entities: conlleval-style P/R/F1 of the recogniser on an IOB2 file.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np

from .config import Settings
from .errors import InputError, MalformedRecord
from .models import Document
from .store import parse_iso

REPLAY_BATCH = 64


def _gold_records(gold_path: Path, limit: int | None) -> list:
    """The records of a clustering gold file in publication-time order (the first ``limit``)."""
    records = _read_jsonl(gold_path, ("id", "cluster"))
    records.sort(key=lambda r: (r[2].get("published_at") or "", r[0]))
    return records[:limit] if limit else records


def _read_jsonl(path: Path, required: tuple[str, ...]) -> list[tuple[int, str, dict]]:
    if not path.is_file():
        raise InputError("no such file", source=str(path))
    records = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise MalformedRecord(f"malformed JSON ({exc.msg} at column {exc.colno})",
                                      source=f"{path}:{number}") from None
            missing = [k for k in required if k not in record]
            if missing:
                raise MalformedRecord(f"missing field(s) {', '.join(missing)}", source=f"{path}:{number}")
            records.append((number, line, record))
    return records


def _bar(total: int, label: str, enabled: bool):
    from rich.progress import Progress
    progress = Progress(disable=not enabled, transient=True)
    task = progress.add_task(label, total=total)
    return progress, task


def replay_gold(records: list[tuple[int, str, dict]], gold_path: Path, db: str | Path, settings: Settings, *,
                progress: bool = False):
    """Ingest gold records (from :func:`_read_jsonl`, in the order given) into a store at ``db``
    in batches of :data:`REPLAY_BATCH`, as a stream would arrive; return the open Monitor
    (the caller closes it). Each record's ``id`` becomes the article's ``external_id``."""
    from .pipeline import Monitor

    monitor = Monitor(db, settings)
    try:
        bar, task = _bar(len(records), "replaying", progress)
        with bar:
            for start in range(0, len(records), REPLAY_BATCH):
                chunk = records[start:start + REPLAY_BATCH]
                docs = [Document(source=f"{gold_path}:{number}", raw=line.encode(), content_type="jsonl",
                                 text=record.get("text") or "", title=record.get("title"),
                                 lang=record.get("lang"), external_id=str(record["id"]),
                                 published_at=parse_iso(record["published_at"]) if record.get("published_at")
                                 else None)
                        for number, line, record in chunk]
                monitor.add_documents(docs)
                bar.update(task, advance=len(chunk))
    except BaseException:
        monitor.close()
        raise
    return monitor


def evaluate_clustering(gold_path: str | Path, settings: Settings | None = None, *,
                        predictions_path: str | Path | None = None, limit: int | None = None,
                        progress: bool = False) -> dict:
    """Replay ``gold_path`` through ingest→stories in time order and score the result."""
    from .metrics import clustering_report

    gold_path = Path(gold_path)
    settings = settings or Settings.load()
    records = _gold_records(gold_path, limit)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tidings-eval-") as tmp:
        monitor = replay_gold(records, gold_path, Path(tmp) / "eval.db", settings, progress=progress)
        try:
            predicted: dict[str, str] = {}
            rows = monitor.store.conn.execute("SELECT id, external_id, story_id, duplicate_of FROM articles")
            by_article = {r["id"]: (r["external_id"], r["story_id"], r["duplicate_of"]) for r in rows}
            for external_id, story_id, duplicate_of in by_article.values():
                if duplicate_of:  # a duplicate belongs where its first copy went
                    story_id = by_article[duplicate_of][1]
                predicted[external_id] = monitor.store.resolve_story(story_id)
        finally:
            monitor.close()
    elapsed = time.perf_counter() - started
    gold = {str(r["id"]): str(r["cluster"]) for _, _, r in records}
    langs = {str(r["id"]): str(r.get("lang") or "und") for _, _, r in records}
    report = clustering_report(gold, predicted, langs)
    report["articles"] = len(records)
    report["stories"] = len(set(predicted.values()))
    report["gold_clusters"] = len(set(gold.values()))
    report["seconds"] = round(elapsed, 1)
    report["articles_per_second"] = round(len(records) / elapsed, 2) if elapsed else None
    if predictions_path:
        with Path(predictions_path).open("w", encoding="utf-8") as handle:
            for _, _, record in records:
                handle.write(json.dumps({"id": str(record["id"]), "cluster": predicted[str(record["id"])]}) + "\n")
    return report


def _fmt(scores: dict) -> str:
    return " ".join(f"{k} {scores[k]:.3f}" for k in ("precision", "recall", "f1") if k in scores)


def format_clustering(report: dict) -> str:
    lines = [f"{report['articles']} articles -> {report['stories']} stories "
             f"(gold: {report['gold_clusters']} clusters) in {report['seconds']} s "
             f"({report['articles_per_second']} articles/s)",
             f"BCubed            {_fmt(report['bcubed'])}",
             f"pairwise          {_fmt(report['pairwise'])}",
             f"cross-lingual B3  {_fmt(report['cross_lingual_bcubed'])}"]
    for lang, scores in sorted(report.get("per_language", {}).items()):
        lines.append(f"  {lang:<4} B3 {_fmt(scores['bcubed'])}  (n={scores.get('n', '?')})")
    lines.append(f"summary: bcubed_f1={report['bcubed']['f1']:.3f} "
                 f"cross_lingual_bcubed_f1={report['cross_lingual_bcubed']['f1']:.3f}")
    return "\n".join(lines)


def _pair_document(text: str, lang: str, source: str) -> Document:
    text = text.strip()
    title, _, body = text.partition("\n")
    if not body:
        title, body = None, text
    return Document(source=source, raw=text.encode(), content_type="jsonl", text=body.strip(), title=title,
                    lang=lang)


def evaluate_similarity(pairs_path: str | Path, settings: Settings | None = None, *, limit: int | None = None,
                        progress: bool = False, embedding_cache: str | Path | None = None) -> dict:
    """Correlation of the similarity score with the human ``overall`` rating (1 similar … 4 dissimilar).

    Every text is prepared and embedded first; the per-language centres of the similarity score
    are then the means over the evaluated texts (no ratings used), as a store's running means
    would be after ingesting them (see :mod:`tidings.similarity`). ``embedding_cache`` names a
    store file whose embedding cache is reused and filled, so a second run skips the encoder
    (~0.5 s per text on one core).
    """
    from scipy.stats import pearsonr, spearmanr

    from .pipeline import Pipeline, story_features
    from .similarity import LanguageCentres, SimilaritySettings, similarity

    pairs_path = Path(pairs_path)
    settings = settings or Settings.load()
    records = _read_jsonl(pairs_path, ("text1", "text2", "overall"))[:limit]
    pipeline = Pipeline(settings)
    cfg = SimilaritySettings.from_dict(settings.section("similarity"))
    cache = None
    if embedding_cache is not None:
        from .store import Store
        cache = Store.open(embedding_cache)
    articles = []
    started = time.perf_counter()
    bar, task = _bar(len(records), "embedding pairs", progress)
    try:
        with bar:
            for start in range(0, len(records), REPLAY_BATCH):
                chunk = records[start:start + REPLAY_BATCH]
                batch = [pipeline.prepare(_pair_document(r["text" + side], r.get("lang" + side),
                                                         f"{pairs_path}:{number}:{side}"))
                         for number, _, r in chunk for side in ("1", "2")]
                pipeline.embed(batch, cache)
                articles.extend(batch)
                bar.update(task, advance=len(chunk))
    finally:
        if cache is not None:
            cache.close()
    features = [story_features(a) for a in articles]
    centres = LanguageCentres.fit([f.embedding for f in features], [f.lang for f in features],
                                  lang_prior=cfg.centre_lang_prior)
    scores, human, cross = [], [], []
    from dataclasses import replace

    from .calibration import same_story_probability
    for i, (_, _, r) in enumerate(records):
        # the pairs carry no dates: their time part is missing, not "published together"
        fa, fb = (replace(features[2 * i + k], published_at=None) for k in (0, 1))
        scores.append(same_story_probability(similarity(fa, fb, cfg, centres=centres), fa.lang, fb.lang)[0])
        human.append(-float(r["overall"]))
        cross.append(r.get("lang1") != r.get("lang2"))
    elapsed = time.perf_counter() - started
    s, h, c = np.array(scores), np.array(human), np.array(cross, dtype=bool)

    def corr(mask: np.ndarray) -> dict:
        if mask.sum() < 3:
            return {"n": int(mask.sum())}
        return {"n": int(mask.sum()), "pearson": float(pearsonr(s[mask], h[mask])[0]),
                "spearman": float(spearmanr(s[mask], h[mask])[0])}

    return {"pairs": len(records), "all": corr(np.ones_like(c)), "monolingual": corr(~c), "crosslingual": corr(c),
            "seconds": round(elapsed, 1), "pairs_per_second": round(len(records) / elapsed, 2) if elapsed else None}


def format_similarity(report: dict) -> str:
    lines = [f"{report['pairs']} pairs in {report['seconds']} s"]
    for key in ("all", "monolingual", "crosslingual"):
        r = report[key]
        if "pearson" in r:
            lines.append(f"{key:<13} n={r['n']:<5} pearson {r['pearson']:.3f} spearman {r['spearman']:.3f}")
    lines.append(f"summary: pearson={report['all'].get('pearson', float('nan')):.3f}")
    return "\n".join(lines)


def evaluate_entities(path: str | Path, lang: str, errors: int = 0) -> dict:
    """conlleval-style scores of the recogniser registered for ``lang`` on an IOB2 file; with
    ``errors`` > 0 also the most frequent errors of each kind (``ner.error_report``)."""
    from .ner import evaluate_iob2

    return evaluate_iob2(path, lang, errors=errors)


def format_entities(report: dict) -> str:
    lines = []
    for key in ("PER", "LOC", "ORG", "overall"):
        if key in report:
            r = report[key]
            lines.append(f"{key:<8} precision {r['precision']:.3f} recall {r['recall']:.3f} f1 {r['f1']:.3f} "
                         f"support {r.get('support', '?')}")
    for kind, found in report.get("errors", {}).items():
        lines.append(f"{kind.replace('_', ' ')}: {found['total']}")
        for case in found["cases"]:
            what = {"wrong_label": f"gold {case['gold']}, predicted {case['predicted']}",
                    "boundary": f"predicted {case['predicted']}, gold {case['gold']} {case.get('gold_text', '')!r}",
                    "spurious": f"predicted {case['predicted']}",
                    "missed": f"gold {case['gold']}"}[kind]
            lines.append(f"  {case['count']:>4}  {case['text']!r}  {what}")
    if "overall" in report:
        lines.append(f"summary: f1={report['overall']['f1']:.3f}")
    return "\n".join(lines)


# ---- search ---------------------------------------------------------------------------------
SEARCH_METHODS = ("words", "entities", "meaning", "fused")


def _search_scores(ranked: list[int], relevant: set[int]) -> tuple[float, float, float]:
    top = ranked[:10]
    found = sum(1 for r in top if r in relevant)
    first = next((i for i, r in enumerate(ranked, 1) if r in relevant), None)
    return float(found > 0), found / min(10, len(relevant)), (1.0 / first if first else 0.0)


def evaluate_search(gold_path: str | Path, settings: Settings | None = None, *, limit: int | None = None,
                    progress: bool = False, store_path: str | Path | None = None,
                    clusters: set[str] | None = None) -> dict:
    """Search quality on a clustering gold file (issue #13): replay it into a store as
    :func:`evaluate_clustering` does, query with each article's title, and count the other
    articles of its gold cluster as relevant. Per method (words, entities, meaning, fused):
    success@10, recall@10 (relevant in the top 10 / min(10, relevant)) and MRR, over all
    queries and cross-lingually (only articles in other languages than the query's are
    searched; only queries with a relevant article there count). The query's own article is
    never a result. ``store_path``: replay into this file, or reuse it when it already holds
    the replay (for repeated runs while tuning). ``clusters``: score only queries of these gold
    clusters (the whole file is still replayed and searched)."""
    from .search import SearchSettings, search, sync
    from .search.entities import query_entities, store_languages

    gold_path = Path(gold_path)
    settings = settings or Settings.load()
    records = _gold_records(gold_path, limit)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tidings-eval-") as tmp:
        db = Path(store_path) if store_path else Path(tmp) / "eval.db"
        if db.exists():
            from .pipeline import Monitor
            monitor = Monitor(db, settings)
        else:
            monitor = replay_gold(records, gold_path, db, settings, progress=progress)
        try:
            store = monitor.store
            sync(store, settings)
            vectors = monitor.update_vector_index()
            cfg = SearchSettings.from_dict(settings.section("search"))
            languages = store_languages(store)
            rows = store.conn.execute("SELECT rowid, id, external_id, lang, duplicate_of FROM articles").fetchall()
            by_id = {r["id"]: r for r in rows}
            canonical = {r["external_id"]: by_id[r["duplicate_of"]]["rowid"] if r["duplicate_of"] else r["rowid"]
                         for r in rows}
            lang_of = {r["rowid"]: r["lang"] for r in rows}
            members: dict[str, set[int]] = {}
            for _, _, rec in records:
                members.setdefault(str(rec["cluster"]), set()).add(canonical[str(rec["id"])])
            queries = [(str(rec["id"]), str(rec["cluster"]), (rec.get("title") or "").strip())
                       for _, _, rec in records if (rec.get("title") or "").strip()]
            if clusters is not None:
                queries = [q for q in queries if q[1] in clusters]
            titles = [t for _, _, t in queries]
            qvecs = _query_vectors(monitor, titles)
            totals = {m: {mode: [0.0, 0.0, 0.0, 0] for mode in ("all", "cross_lingual")} for m in SEARCH_METHODS}
            bar, task = _bar(len(queries), "searching", progress)
            with bar:
                for (qid, cluster, title), qvec in zip(queries, qvecs):
                    own = canonical[qid]
                    relevant = members[cluster] - {own}
                    own_lang = lang_of[own]
                    named = query_entities(store, title, languages, cfg.entity_max_ngram)   # once for both modes
                    for mode in ("all", "cross_lingual"):
                        rel = relevant if mode == "all" else {r for r in relevant if lang_of[r] != own_lang}
                        if not rel:
                            continue
                        result = search(store, title, settings=settings, vectors=vectors, query_vector=qvec,
                                        limit=1, exclude_rowids=(own,), query_entities=named,
                                        exclude_lang=own_lang if mode == "cross_lingual" else None)
                        for method in SEARCH_METHODS:
                            scores = _search_scores(result.rankings.get(method, []), rel)
                            acc = totals[method][mode]
                            for i in range(3):
                                acc[i] += scores[i]
                            acc[3] += 1
                    bar.update(task, advance=1)
        finally:
            monitor.close()
    report: dict = {"methods": {}}
    for method, modes in totals.items():
        report["methods"][method] = {
            mode: {"success@10": round(acc[0] / acc[3], 4) if acc[3] else None,
                   "recall@10": round(acc[1] / acc[3], 4) if acc[3] else None,
                   "mrr": round(acc[2] / acc[3], 4) if acc[3] else None, "queries": acc[3]}
            for mode, acc in modes.items()}
    report["articles"] = len(records)
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report


def _query_vectors(monitor, texts: list[str]) -> list:
    """e5 vectors of the query texts, from the store's embedding cache where a text was embedded
    before (a title-only article's text is its title), the rest encoded now."""
    from .pipeline import embedding_key

    embedder = monitor.pipeline.embedder
    keys = [embedding_key(embedder.model_id, t) for t in texts]
    found = monitor.store.cached_embeddings(keys)
    todo = sorted({k: t for k, t in zip(keys, texts) if k not in found}.items())
    if todo:
        found.update(zip([k for k, _ in todo], embedder.embed([t for _, t in todo])))
    return [found[k] for k in keys]


def format_search(report: dict) -> str:
    lines = [f"{report['articles']} articles, {report['seconds']} s",
             f"{'method':<10} {'':<14} {'success@10':>10} {'recall@10':>10} {'MRR':>7} {'queries':>8}"]
    for method, modes in report["methods"].items():
        for mode, r in modes.items():
            if r["queries"]:
                lines.append(f"{method:<10} {mode:<14} {r['success@10']:>10.3f} {r['recall@10']:>10.3f} "
                             f"{r['mrr']:>7.3f} {r['queries']:>8}")
    fused = report["methods"]["fused"]["cross_lingual"]
    if fused["queries"]:
        lines.append(f"summary: cross_lingual fused recall@10={fused['recall@10']:.3f} mrr={fused['mrr']:.3f}")
    return "\n".join(lines)
