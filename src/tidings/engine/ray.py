"""The Ray engine: documents cleaned, analysed and embedded by an actor pool on Ray.

``tidings ingest --engine ray`` (``ingest.engine = "ray"``). Each actor loads the models once
(spaCy, the CRFs, the gazetteer, e5: a few seconds and ~1 GB) and then prepares batches of
``ingest.ray_batch_size`` documents: language, cleaning, names, places, dates, quotations, and
the e5 embedding of each article. The results come back in input order, so the caller (the
monitor) dedups, assigns stories in publication order and stores exactly as with the local
engine, using the vectors the actors computed (it does not embed again).

Ray is optional: ``pip install "tidings[ray]"``. With ``ingest.ray_address`` empty a local Ray
is started for the run (``ingest.workers`` CPUs, no dashboard, bound to 127.0.0.1, no usage
statistics) and stopped by :meth:`RayEngine.close`; with an address (``auto``,
``ray://head:10001``) the engine joins that cluster, whose nodes need the same tidings installed.
"""

from __future__ import annotations

import logging
import os
import socket
from collections import deque
from collections.abc import Iterable, Iterator
from datetime import datetime
from itertools import islice
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, InputError, TidingsError
from ..models import Article, Document
from . import Prepared, error_from, error_parts, for_worker, worker_count

if TYPE_CHECKING:
    from ..config import Settings
    from ..pipeline import Pipeline

log = logging.getLogger(__name__)

# Batches queued per actor: one being prepared and one waiting, so an actor never idles while
# its result travels back.
_BATCHES_IN_FLIGHT_PER_ACTOR = 2
# Set before Ray is imported, for a local Ray: no usage statistics sent out, and every server
# of the local Ray (GCS, raylet, workers) on 127.0.0.1 instead of this machine's address.
LOCAL_RAY_ENVIRONMENT = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
# Seconds to wait for a TCP connection to ingest.ray_address before calling it unreachable
# (ray.init itself retries an unreachable address for minutes).
CONNECT_TIMEOUT_S = 10.0
INSTALL_HINT = 'pip install "tidings[ray]" (or: pip install ray)'


def import_ray(source: str = "ingest.engine = ray") -> Any:
    """The ``ray`` module, or a clear error saying how to install it."""
    for name, value in LOCAL_RAY_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    try:
        import ray
    except ImportError:
        raise ConfigError("Ray is not installed", source=source, hint=INSTALL_HINT) from None
    return ray


def start_local_ray(num_cpus: int, object_store_mb: int = 128, logging_level: int = logging.ERROR) -> None:
    """Start a Ray on this machine only: ``num_cpus`` CPUs, no dashboard, workers' output not
    copied here, every server on 127.0.0.1 (the test set-up starts its Ray with this too)."""
    ray = import_ray()
    ray.init(num_cpus=num_cpus, object_store_memory=object_store_mb * 1024 * 1024, include_dashboard=False,
             log_to_driver=False, logging_level=logging_level)


class RayEngine:
    """``ingest.engine = "ray"``: an actor pool of ``ingest.workers`` actors (0: one per CPU of
    the Ray cluster), started on the first :meth:`prepare` and kept until :meth:`close`."""

    name = "ray"
    # text and HTML files reach the actors as their raw bytes: decoding, HTML extraction,
    # cleaning and language run there too (tidings.ingest.decode_document)
    decodes = True

    def __init__(self, settings: Settings, pipeline: Pipeline):
        section = settings.section("ingest")
        self.settings = settings
        self.address = str(section.get("ray_address") or "").strip() or None
        workers = section.get("workers", 1)
        # 0: one actor per CPU of the Ray cluster (known once connected), not of this machine
        self.workers = 0 if str(workers).strip() == "0" else worker_count(workers)
        self.batch_size = _positive(section.get("ray_batch_size", 16), "ingest.ray_batch_size")
        self.object_store_mb = _positive(section.get("ray_object_store_mb", 128), "ingest.ray_object_store_mb")
        self._ray: Any = None
        self._owns_ray = False  # a local Ray started, or a connection made, by this engine
        self._actors: list[Any] = []

    # ---- start and stop ------------------------------------------------------------------
    def _start(self) -> None:
        if self._actors:
            return
        ray = import_ray()
        self._ray = ray
        if not ray.is_initialized():
            self._connect(ray)
        cpus = int(ray.cluster_resources().get("CPU", 0))
        count = self.workers or cpus or 1
        if cpus and count > cpus:
            log.warning("ingest.workers = %d but the Ray cluster has %d CPUs: starting %d actors",
                        count, cpus, cpus)
            count = cpus
        from .. import entities

        actor = ray.remote(num_cpus=1)(_Preparer)
        self._actors = [actor.remote(self.settings, entities.configured()) for _ in range(count)]
        log.info("Ray engine: %d actors (%s)", count, self.address or "local Ray")

    def _connect(self, ray: Any) -> None:
        level = logging.getLogger("tidings").getEffectiveLevel()
        if self.address is None:
            start_local_ray(self.workers or worker_count(0), self.object_store_mb, logging_level=level)
            self._owns_ray = True
            return
        hint = "check the address (ray status on the head node), or leave it empty for a local Ray"
        check_reachable(self.address, hint)
        try:
            ray.init(address=self.address, log_to_driver=False, logging_level=level)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ConfigError(f"cannot connect to the Ray cluster at {self.address}: {exc}",
                              source="ingest.ray_address", hint=hint) from None
        self._owns_ray = True  # this process's connection; ray.shutdown() leaves the cluster up

    def close(self) -> None:
        """Stop the actors, and the local Ray if this engine started it (or disconnect)."""
        ray, actors = self._ray, self._actors
        self._actors = []
        if ray is None:
            return
        for actor in actors:
            ray.kill(actor)
        if self._owns_ray:
            ray.shutdown()
            self._owns_ray = False

    # ---- prepare ---------------------------------------------------------------------------
    def prepare(self, items: Iterable[Document | InputError], default_date: datetime | None = None,
                ) -> Iterator[Prepared]:
        """Prepare and embed each document on the actors; ``(item, article)`` in input order,
        ``article.embedding`` set, or ``(item, error)`` for an input that failed."""
        self._start()
        ray = self._ray
        items = iter(items)
        # a bounded window of batches in flight: every actor busy, the input read as it goes
        window: deque[tuple[list[Document | InputError], Any]] = deque()
        load = [0] * len(self._actors)
        limit = len(self._actors) * _BATCHES_IN_FLIGHT_PER_ACTOR
        try:
            while True:
                chunk = list(islice(items, self.batch_size))
                if chunk:
                    docs = [for_worker(d) for d in chunk if isinstance(d, Document)]
                    ref = None
                    if docs:
                        index = load.index(min(load))
                        load[index] += 1
                        ref = (index, self._actors[index].prepare.remote(docs, default_date))
                    window.append((chunk, ref))
                while window and (len(window) >= limit or not chunk):
                    batch, ref = window.popleft()
                    if ref is not None:
                        load[ref[0]] -= 1
                    yield from _collect(batch, ray.get(ref[1]) if ref is not None else [])
                if not chunk:
                    return
        except ray.exceptions.RayActorError as exc:
            raise TidingsError("a Ray actor stopped unexpectedly (out of memory, a node lost, or "
                               f"tidings not installed on a node): {exc}".split("\n")[0],
                               source=f"ingest.engine = ray ({self.address or 'local Ray'})",
                               hint="see the Ray logs; ingest.engine = local runs without Ray") from None


def check_reachable(address: str, hint: str | None = None, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """A clear error at once for a ``host:port`` (or ``ray://host:port``) nobody listens on;
    names such as ``auto`` are left to Ray."""
    host, colon, port = address.removeprefix("ray://").rpartition(":")
    if not colon or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ConfigError(f"cannot connect to the Ray cluster at {address}: {exc.strerror or exc}",
                          source="ingest.ray_address", hint=hint) from None


def _collect(batch: list[Document | InputError], results: list) -> Iterator[Prepared]:
    """Zip a batch's inputs with the actor's results for its documents, in input order. A
    document the actor decoded comes back decoded (its raw bytes put back: they were not sent
    back), with its article."""
    from dataclasses import replace

    answers = iter(results)
    for item in batch:
        if isinstance(item, InputError):
            yield item, item
            continue
        decoded, result = next(answers)
        if decoded is not None:
            item = replace(decoded, raw=item.raw)
        yield item, error_from(result) if isinstance(result, tuple) else result


def _positive(value: object, name: str) -> int:
    try:
        number = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        number = 0
    if number < 1:
        raise ConfigError(f"not a positive whole number: {value!r}", source=name)
    return number


class _Preparer:
    """A Ray actor: the models loaded once, then batches of documents prepared and embedded."""

    def __init__(self, settings: Settings, entity_settings: dict | None):
        from .. import entities
        from ..pipeline import Pipeline

        self.pipeline = Pipeline(settings)
        if entity_settings is not None:   # after the pipeline, which makes its own section current
            entities.configure(entity_settings)
        self.ingest_section = settings.section("ingest")

    def _decode(self, doc: Document) -> Document | InputError:
        from ..ingest import decode_document

        try:
            return decode_document(doc, self.ingest_section)
        except InputError as exc:
            return exc
        except (Exception, RecursionError) as exc:  # a reader library choking on one input: its error
            from ..errors import MalformedRecord
            return MalformedRecord(f"cannot read ({type(exc).__name__}: {str(exc).strip()[:200]})", source=doc.source)

    def prepare(self, docs: list[Document], default_date: datetime | None) -> list[tuple[Document | None, Any]]:
        """Per document: (the document decoded here, without its raw bytes, or None when it came
        decoded; its article, or its error as ``error_parts``)."""
        from dataclasses import replace

        decoded = [self._decode(doc) if doc.decode else None for doc in docs]
        results = [d if isinstance(d, InputError) else self.pipeline._prepare_or_error(d or doc, default_date)
                   for doc, d in zip(docs, decoded)]
        articles = [r for r in results if isinstance(r, Article)]
        if articles:
            texts, _ = self.pipeline._keys(articles)
            for article, vector in zip(articles, self.pipeline.embedder.embed(texts)):
                article.embedding = vector
        return [(replace(d, raw=b"") if isinstance(d, Document) else None,
                 error_parts(r) if isinstance(r, InputError) else r) for d, r in zip(decoded, results)]
