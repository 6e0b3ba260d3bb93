"""The int8 encoder's per-batch buffers come from the heap, not fresh mmap pages (e5/heap.py).

Each case runs in a fresh process (glibc's malloc settings are per process and can be set only
once): the same texts are encoded in a worker thread, as Pipeline.embed_ahead does, once with
tidings' settings and once without, and the minor page faults of the second pass are compared.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tidings.e5.heap import keep_large_buffers

pytest.importorskip("ctranslate2")

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, resource, sys, threading
import tidings.e5.heap as heap
if sys.argv[1] == "off":
    heap._done = True          # as if set already: glibc keeps its defaults
from tidings.embed import Embedder
texts = [json.loads(l)["text"][:900] for l in open(sys.argv[2]) if l.strip()]
out = {}
def work():
    emb = Embedder({"engine": "ctranslate2"})
    emb.embed(texts)                                   # model loaded, buffers sized
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    emb.embed(texts)
    out["faults"] = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    out["texts"] = len(texts)
t = threading.Thread(target=work); t.start(); t.join()
print(json.dumps(out))
"""


def _faults(mode: str) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_TUNABLES"))}
    env["PYTHONPATH"] = str(ROOT / "src")
    run = subprocess.run([sys.executable, "-c", CHILD, mode, str(ROOT / "examples" / "sample" / "articles.jsonl")],
                         capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout.strip().splitlines()[-1])["faults"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")
def test_encoder_buffers_are_reused_not_faulted_in_again():
    with_setting, without = _faults("on"), _faults("off")
    # measured: 6 with the setting, ~179,000 without (the 26 sample texts, 900 characters each)
    assert with_setting * 5 < without, (with_setting, without)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")
def test_keep_large_buffers_is_idempotent():
    assert keep_large_buffers() is True
    assert keep_large_buffers() is True
