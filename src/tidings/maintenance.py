"""Verify, repair and copy a store: ``tidings check [--repair]`` and ``tidings backup PATH``.

:func:`check` runs SQLite's own page check, the store's consistency checks (memberships, orphans,
story sizes and spans, story state against the stories; see ``Store.CHECKS``), the full-text index
against the articles, and any check registered with :func:`register_check` (the vector index of
the search package registers one: its status function, in step or not, and how to rebuild it).
With ``repair`` every repairable problem is fixed in one write transaction, and the checks run
again to show what is left.

:func:`backup` copies a live store with SQLite's online backup API to ``PATH.part``, checks the
copy, and renames it into place: a reader of PATH never sees half a copy. A PostgreSQL store is
copied the same way by ``pg_dump`` (custom format, one snapshot), read back by ``pg_restore
--list``. On PostgreSQL, :func:`check` runs the same consistency checks (the server checks its own
pages) and repairs under the story assignment lock.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import StoreError
from .store import Store

log = logging.getLogger(__name__)


@dataclass
class Finding:
    """One check: how many problems it found, a few example ids, whether they can be repaired."""

    name: str
    description: str
    count: int = 0
    examples: list[str] = field(default_factory=list)
    repairable: bool = True
    repaired: bool = False

    @property
    def ok(self) -> bool:
        return self.count == 0


@dataclass
class CheckReport:
    findings: list[Finding]
    repaired: bool = False

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.findings)

    def as_dict(self) -> dict:
        return {"ok": self.ok, "repaired": self.repaired,
                "checks": [{**asdict(f), "ok": f.ok} for f in self.findings]}


@dataclass
class ExtraCheck:
    """A check contributed by another package (e.g. the vector index of search).

    ``status(store)`` returns ``(count, examples)`` of the problems found (0, [] when in step);
    ``repair(store)`` fixes them, or is None when they cannot be fixed here."""

    name: str
    description: str
    status: Callable[[Store], tuple[int, list[str]]]
    repair: Callable[[Store], None] | None = None


_EXTRA_CHECKS: dict[str, ExtraCheck] = {}
# Checks whose problems Store.repair_issues cannot fix (the assigner's state is its own).
NOT_REPAIRABLE = {"state_unknown_story", "state_alias_dangling"}


def register_check(extra: ExtraCheck) -> None:
    """Add a check to every :func:`check` run (the search package's vector index: in step with
    the articles, or which ones are missing or extra)."""
    _EXTRA_CHECKS[extra.name] = extra


def _findings(store: Store) -> list[Finding]:
    found: list[Finding] = []
    if store.dialect == "sqlite":   # PostgreSQL checks its own pages (data checksums, amcheck)
        problems = store.quick_check()
        found.append(Finding("sqlite_quick_check", "SQLite's page-level check of the file", len(problems),
                             problems[:20], repairable=False))
    for name, (description, _, _) in store.CHECKS.items():
        count, examples = store.find_issues(name)
        found.append(Finding(name, description, count, examples, repairable=name not in NOT_REPAIRABLE))
    fts = store.fts_problem()
    found.append(Finding("fts_in_step", "the full-text index matches the articles", int(fts is not None),
                         [fts] if fts else []))
    from . import search  # noqa: F401 - registers its check of the vector index

    for extra in _EXTRA_CHECKS.values():
        count, examples = extra.status(store)
        found.append(Finding(extra.name, extra.description, count, examples[:20], repairable=extra.repair is not None))
    return found


def check(store: Store, *, repair: bool = False) -> CheckReport:
    """Check ``store``; with ``repair`` (a writable store) fix what can be fixed and check again."""
    findings = _findings(store)
    if not repair or all(f.ok for f in findings):
        return CheckReport(findings)
    if store.read_only:
        raise StoreError("the store is open read-only: cannot repair", source=store.path)
    to_fix = [f for f in findings if not f.ok and f.repairable]
    with store.write_lock():
        for finding in to_fix:
            log.info("repairing %s (%d)", finding.name, finding.count)
            if finding.name == "fts_in_step":
                store.rebuild_fts()
            elif finding.name in _EXTRA_CHECKS:
                _EXTRA_CHECKS[finding.name].repair(store)  # type: ignore[misc]
            else:
                store.repair_issues(finding.name)
    after = _findings(store)
    fixed = {f.name for f in to_fix}
    for finding in after:
        finding.repaired = finding.name in fixed and finding.ok
    return CheckReport(after, repaired=True)


def backup(store: Store, path: str | Path, *, overwrite: bool = False,
           progress: Callable[[int, int], None] | None = None, pg_dump: str = "") -> dict:
    """Copy ``store`` to ``path``, consistent as of one moment: SQLite's online backup (a SQLite
    file), or for PostgreSQL ``pg_dump``'s custom format (``pg_dump``: the program, setting
    ``store.pg_dump``; restore with ``pg_restore -d NEWDB PATH``)."""
    target = Path(path)
    if target.exists() and not overwrite:
        raise StoreError("the backup file exists already", source=str(target), hint="remove it, or pass --overwrite")
    if store.dialect != "sqlite":
        return _backup_dump(store, target, pg_dump)
    if target.resolve() == Path(store.path).resolve():
        raise StoreError("the backup would overwrite the store itself", source=str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    part.unlink(missing_ok=True)
    try:
        store.backup_to(part, progress)
        with Store.open(part, read_only=True) as copy:
            problems = copy.quick_check()
            articles = copy.count("articles")
        if problems:
            raise StoreError("the copy does not pass SQLite's check: " + "; ".join(problems[:3]), source=str(part))
        os.replace(part, target)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return {"path": str(target), "bytes": target.stat().st_size, "articles": articles}


def _backup_dump(store: Store, target: Path, pg_dump: str) -> dict:
    """PostgreSQL: ``pg_dump`` to ``PATH.part``, read back by ``pg_restore --list``, renamed into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    part.unlink(missing_ok=True)
    try:
        articles = store.count("articles")
        store.backup_to(part, pg_dump=pg_dump)
        entries = store.verify_backup(part, pg_dump=pg_dump)
        os.replace(part, target)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    log.info("pg_dump of %s: %d archive entries in %s", store.address, entries, target)
    return {"path": str(target), "bytes": target.stat().st_size, "articles": articles, "format": "pg_dump-custom"}
