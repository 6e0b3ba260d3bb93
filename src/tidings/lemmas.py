"""The word dictionaries of simplemma, one lemmatizer for the whole process.

simplemma's module functions (``simplemma.lemmatize``, ``simplemma.is_known``) keep at most
8 language dictionaries in memory and decode the least recently used one again when a ninth
language comes (0.1-2.7 s each: a German dictionary holds 1.1M forms). A store in more than
8 languages then paid that on every query, which links its words under each of the store's
languages (3 s for one query at a million articles in 9 languages), and an ingest of a
stream in more than 8 languages on every language switch. Here the number of dictionaries
kept is the setting ``entities.lemma_dictionaries`` (each holds 10-430 MB: docs/settings.md).
"""

from __future__ import annotations

from functools import lru_cache
from threading import Lock

_lock = Lock()   # simplemma's dictionary cache is not safe to fill from two threads


@lru_cache(maxsize=1)
def _tools(kept: int):
    from simplemma import Lemmatizer
    from simplemma.strategies import DefaultStrategy, DictionaryLookupStrategy
    from simplemma.strategies.dictionaries import DefaultDictionaryFactory

    factory = DefaultDictionaryFactory(cache_max_size=kept)
    return Lemmatizer(lemmatization_strategy=DefaultStrategy(dictionary_factory=factory)), \
        DictionaryLookupStrategy(factory), factory


def _kept() -> int:
    from .entities import settings

    return max(1, int(settings().get("lemma_dictionaries", 16)))


def lemmatize(form: str, code: str) -> str | None:
    """simplemma's lemma of ``form`` in language ``code`` (None where it has no dictionary)."""
    lemmatizer, _, _ = _tools(_kept())
    with _lock:
        try:
            return lemmatizer.lemmatize(form, code)
        except ValueError:
            return None


def is_known(word: str, code: str) -> bool:
    """simplemma's dictionary for ``code`` holds ``word`` (False where it has no dictionary)."""
    from simplemma.utils import normalize_token

    _, lookup, _ = _tools(_kept())
    with _lock:
        try:
            return lookup.get_lemma(normalize_token(word), code) is not None
        except ValueError:
            return False


def load(codes) -> list[str]:
    """Load the dictionaries of ``codes`` now (ahead of the first query): the codes simplemma
    has a dictionary for."""
    _, _, factory = _tools(_kept())
    loaded = []
    for code in dict.fromkeys(codes):
        with _lock:
            try:
                factory.get_dictionary(code)
            except ValueError:
                continue
        loaded.append(code)
    return loaded


def loads() -> int:
    """Dictionaries decoded from disk so far in this process (for tests and benchmarks)."""
    _, _, factory = _tools(_kept())
    return factory._get_dictionary.cache_info().misses
