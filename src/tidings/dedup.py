"""Duplicate detection: the same article fetched twice, or republished with small edits.

Exact duplicates share :func:`content_hash` (case, punctuation and spacing do not count).
Near duplicates (a wire story with a changed sentence, a new headline, a different footer)
are found with MinHash over word shingles and an LSH index (datasketch): the index proposes
candidates cheaply, and a candidate counts only if its estimated Jaccard similarity reaches
``near_duplicate_threshold``. The index asks for candidates a little below the threshold
(``near_duplicate_lsh_margin``) so that an article just above it is not missed by chance.

Signatures serialise to bytes so the store can persist them and a new process can rebuild the
index without the texts: ``Deduplicator.add(id, "", signature=blob)``.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import regex
from datasketch import LeanMinHash, MinHash, MinHashLSH

from .config import section_with_defaults

log = logging.getLogger(__name__)

_WORDS = regex.compile(r"[\p{L}\p{N}]+")


#: Texts whose hash and MinHash a :class:`Deduplicator` keeps: ingest asks for both up to three
#: times per article within one batch (find, add, then the signature it stores), and shingling
#: and hashing a whole article costs ~1.5 ms. Beyond this many texts back, they are computed again.
RECENT_TEXTS = 1024


def _tokens(text: str) -> list[str]:
    return _WORDS.findall(text.casefold())


def content_hash(text: str) -> str:
    """SHA-1 of the text casefolded, without punctuation, whitespace collapsed.

    Two copies of one article that differ only in typography (curly quotes, NBSP, line
    breaks, capitalisation) get the same hash.
    """
    return _hash_of_tokens(_tokens(text))


def _hash_of_tokens(words: list[str]) -> str:
    return hashlib.sha1(" ".join(words).encode("utf-8")).hexdigest()


class Deduplicator:
    """Exact (hash) and near-duplicate (MinHash LSH) lookup over the articles added so far.

    ``settings`` is the ``[ingest]`` section (or the whole settings dict). Keys:
    ``near_duplicate_threshold``, ``minhash_permutations``, ``shingle_words``, ``minhash_seed``,
    ``near_duplicate_lsh_margin``.
    """

    def __init__(self, settings: dict[str, Any] | None = None):
        section = section_with_defaults("ingest", settings)
        self.threshold = float(section["near_duplicate_threshold"])
        self.num_perm = int(section["minhash_permutations"])
        self.shingle_words = int(section["shingle_words"])
        self.seed = int(section["minhash_seed"])
        lsh_threshold = max(0.05, self.threshold - float(section["near_duplicate_lsh_margin"]))
        self._lsh = MinHashLSH(threshold=lsh_threshold, num_perm=self.num_perm)
        self._by_hash: dict[str, str] = {}
        self._minhashes: dict[str, LeanMinHash] = {}
        self._order: dict[str, int] = {}
        # The seed's permutations, drawn once: a new MinHash draws them again (~0.3 ms a text)
        proto = MinHash(num_perm=self.num_perm, seed=self.seed)
        self._scheme, self._permutations = proto.scheme, proto.permutations
        self._recent: dict[str, tuple[str, LeanMinHash | None]] = {}  # text -> (content hash, MinHash)

    def __len__(self) -> int:
        return len(self._order)

    def _digest(self, text: str) -> tuple[str, LeanMinHash | None]:
        """:func:`content_hash` and MinHash of ``text``, from its words read once (and kept for
        the last :data:`RECENT_TEXTS` texts)."""
        digest = self._recent.get(text)
        if digest is None:
            words = _tokens(text)
            digest = self._recent[text] = (_hash_of_tokens(words), self._minhash_of_words(words))
            if len(self._recent) > RECENT_TEXTS:
                del self._recent[next(iter(self._recent))]
        return digest

    def _shingles(self, text: str) -> list[bytes]:
        return self._shingles_of_words(_tokens(text))

    def _shingles_of_words(self, words: list[str]) -> list[bytes]:
        n = self.shingle_words
        if not words:
            return []
        if len(words) <= n:
            return [" ".join(words).encode("utf-8")]
        return [" ".join(words[i:i + n]).encode("utf-8") for i in range(len(words) - n + 1)]

    def _minhash(self, text: str) -> LeanMinHash | None:
        return self._digest(text)[1]

    def _minhash_of_words(self, words: list[str]) -> LeanMinHash | None:
        shingles = self._shingles_of_words(words)
        if not shingles:
            return None
        m = MinHash(num_perm=self.num_perm, seed=self.seed, permutations=self._permutations, scheme=self._scheme)
        m.update_batch(shingles)
        return LeanMinHash(m)

    def signature(self, text: str) -> bytes:
        """Serialised MinHash of ``text`` (empty bytes for a text without words)."""
        m = self._minhash(text)
        if m is None:
            return b""
        buf = bytearray(m.bytesize())
        m.serialize(buf)
        return bytes(buf)

    def _load(self, signature: bytes) -> LeanMinHash | None:
        if not signature:
            return None
        try:
            m = LeanMinHash.deserialize(signature)
        except Exception as exc:  # a corrupt blob must not stop the monitor
            log.warning("ignoring unreadable duplicate signature (%s)", exc)
            return None
        if len(m.hashvalues) != self.num_perm or m.seed != self.seed:
            log.warning("ignoring duplicate signature made with other settings (%d permutations, seed %d)",
                        len(m.hashvalues), m.seed)
            return None
        return m

    def add(self, article_id: str, text: str, signature: bytes | None = None) -> None:
        """Remember an article. With ``signature`` (from :meth:`signature`), the text is not
        shingled again; with an empty ``text`` only near-duplicate lookup covers it."""
        if article_id in self._order:
            return
        self._order[article_id] = len(self._order)
        if text:
            self._by_hash.setdefault(self._digest(text)[0] if signature is None else content_hash(text), article_id)
        m = self._load(signature) if signature is not None else self._minhash(text)
        if m is not None:
            self._minhashes[article_id] = m
            self._lsh.insert(article_id, m)

    def find(self, text: str) -> str | None:
        """Id of the earliest added article that ``text`` duplicates (exact first), else None."""
        if not text:
            return None
        exact = self._by_hash.get(self._digest(text)[0])
        if exact is not None:
            return exact
        m = self._minhash(text)
        if m is None or not self._minhashes:
            return None
        matches = [key for key in self._lsh.query(m) if self._minhashes[key].jaccard(m) >= self.threshold]
        return min(matches, key=self._order.__getitem__) if matches else None
