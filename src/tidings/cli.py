"""The ``tidings`` command: a thin layer over the Python API (:func:`tidings.open`)."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from . import __version__
from .config import Settings
from .cliconv import as_user_error, plural, print_error, shorten
from .cliconv import progress as progress_display
from .cliconv import run as run_cli
from .errors import FileAccessError, TidingsError, UsageError

app = typer.Typer(
    name="tidings",
    help="Multilingual news event monitor: ingest articles, group them into stories across languages, "
         "extract who, where and when, and serve it all locally.\n\n"
         "Quick start:  tidings ingest examples/sample && tidings stories",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
evaluate_app = typer.Typer(help="Measure quality on labelled data (clustering, similarity, entities).",
                           no_args_is_help=True)
app.add_typer(evaluate_app, name="evaluate")
sources_app = typer.Typer(help="The feeds, sitemaps, sites and folders that `tidings watch` follows.\n\n"
                               "Example:  tidings sources add https://example.org/feed.xml --every 15m && tidings watch",
                          no_args_is_help=True)
app.add_typer(sources_app, name="sources")

out = Console()
err = Console(stderr=True)


class State:
    db: str | None = None
    config: str | None = None
    debug: bool = False


state = State()


def _settings(overrides: dict[str, dict[str, Any]] | None = None) -> Settings:
    return Settings.load(state.config, overrides=overrides)


def _monitor(read_only: bool = False, overrides: dict[str, dict[str, Any]] | None = None):
    from . import open as open_monitor
    settings = _settings(overrides)
    state.db = state.db or settings.section("store")["path"]
    return open_monitor(state.db, settings=settings, read_only=read_only)


def _store_exists() -> bool:
    from .store import is_postgres_address
    path = state.db or _settings().section("store")["path"]
    return is_postgres_address(path) or (path != ":memory:" and Path(path).is_file())


def _shown_db() -> str:
    """The store address as it may be printed (a PostgreSQL password hidden)."""
    from .store import redact
    return redact(state.db or "")


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def _version(value: bool) -> None:
    if value:
        out.print(f"tidings {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    db: Annotated[Optional[str], typer.Option("--db", help="Store to use: a SQLite file, or postgresql://user@host:port/db "
                                                   "[default: store.path setting, tidings.db].",
                                              envvar="TIDINGS_DB")] = None,
    config: Annotated[Optional[str], typer.Option("--config", help="Settings file (TOML) overlaying the defaults.")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logging.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    state.db, state.config, state.debug = db, config, debug
    logging.basicConfig(level=logging.DEBUG if debug else logging.ERROR, format="%(levelname)s %(name)s: %(message)s")


# ---- ingest --------------------------------------------------------------------------------
@app.command()
def ingest(
    paths: Annotated[list[str], typer.Argument(help="Files (.txt, .html, .jsonl, RSS/Atom), directories or http(s) URLs.")],
    default_date: Annotated[Optional[str], typer.Option(
        "--default-date", help="Publication date (ISO 8601) for inputs where none is found (metadata, feed, "
                               "URL, dateline); default: the ingest time.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    workers: Annotated[Optional[int], typer.Option(
        "--workers", min=0, help="Processes that analyse documents (0: one per CPU core) "
                                 "[default: ingest.workers setting, 1]. Pays off for thousands of articles.")] = None,
    engine: Annotated[Optional[str], typer.Option(
        "--engine", metavar="local|ray", help="Where documents are analysed and embedded: local (this machine) or "
                                              "ray (an actor pool on Ray, --workers actors; needs pip install "
                                              "'tidings\\[ray]') \\[default: ingest.engine setting, local].")] = None,
    ray_address: Annotated[Optional[str], typer.Option(
        "--ray-address", metavar="ADDR", help="Ray cluster for --engine ray (auto, ray://head:10001); implies "
                                              "--engine ray \\[default: ingest.ray_address; empty: a local Ray].")] = None,
) -> None:
    """Read articles, clean them, find entities and dates, and group them into stories.

    Bad inputs are reported with the file, line or URL and the reason; the rest goes on.
    The exit code is 1 if any input failed.

    Example:  tidings ingest examples/sample https://example.org/feed.xml
              tidings ingest --workers 2 big-archive.jsonl
              tidings ingest --engine ray --workers 8 --ray-address auto big-archive.jsonl
    """
    when = None
    if default_date:
        try:
            when = datetime.fromisoformat(default_date.replace("Z", "+00:00"))
        except ValueError:
            raise UsageError(f"not an ISO 8601 date: {default_date!r}", source="--default-date") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
    with _monitor(overrides=_ingest_overrides(workers, engine, ray_address)) as monitor:
        total = None
        if err.is_terminal and not as_json:
            from .ingest import count_documents
            total = count_documents(paths)
        with progress_display(err, "inputs", total=total, enabled=not as_json) as bar:
            report = monitor.ingest(paths, default_date=when,
                                    progress=lambda source, n: bar.advance(n, Path(source).name))
    if as_json:
        _print_json(report.as_dict())
    else:
        for error in report.errors:
            print_error(err, error)
        _print_ingest_warnings(report)
        out.print(f"{len(report.added)} added, {plural(len(report.duplicates), 'duplicate')}, "
                  f"{report.already_stored} already stored, {len(report.errors)} failed; "
                  f"{plural(len(report.stories_touched), 'story')} updated in {_shown_db()}", highlight=False)
    if report.errors:
        raise typer.Exit(1)


def _print_ingest_warnings(report) -> None:
    """Warnings naming an input, and the count of each silent repair (docs/reliability.md)."""
    for warning in report.warnings:
        err.print(f"[yellow]warning[/yellow] {warning['source']}: {warning['message']}", highlight=False,
                  soft_wrap=True)
    if report.fixes:
        err.print("repaired: " + ", ".join(f"{kind} {count}" for kind, count in sorted(report.fixes.items())),
                  highlight=False)


def _ingest_overrides(workers: int | None, engine: str | None, ray_address: str | None) -> dict | None:
    """The [ingest] settings given on the command line (--workers, --engine, --ray-address)."""
    from .engine import ENGINES
    from .errors import ConfigError

    values: dict[str, Any] = {}
    if workers is not None:
        values["workers"] = workers
    if engine is not None:
        engine = engine.strip().lower()
        if engine not in ENGINES:
            raise ConfigError(f"unknown engine {engine!r}", source="--engine", hint="one of " + ", ".join(ENGINES))
        values["engine"] = engine
    if ray_address is not None:
        if values.get("engine", "ray") != "ray":
            raise ConfigError("--ray-address is for --engine ray", source="--ray-address")
        values.update(engine="ray", ray_address=ray_address)
    return {"ingest": values} if values else None


# ---- listing -----------------------------------------------------------------------------
@app.command()
def stories(
    lang: Annotated[Optional[str], typer.Option(help="Only stories with an article in this language.")] = None,
    since: Annotated[Optional[str], typer.Option(help="Only stories active on or after this date.")] = None,
    until: Annotated[Optional[str], typer.Option(help="Only stories that started on or before this date.")] = None,
    entity: Annotated[Optional[str], typer.Option(help="Only stories naming this entity id (e.g. per:putin).")] = None,
    place: Annotated[Optional[str], typer.Option(help="Only stories naming this place id (e.g. geo:170063).")] = None,
    q: Annotated[Optional[str], typer.Option("--q", "-q", help="Only stories with an article matching this text.")] = None,
    sort: Annotated[str, typer.Option(help="newest, size, or heat (what is moving now; docs/heat.md).")] = "newest",
    limit: Annotated[int, typer.Option(help="How many stories.")] = 20,
    min_size: Annotated[int, typer.Option(help="Hide stories with fewer articles.")] = 1,
    cursor: Annotated[Optional[str], typer.Option(help="next_cursor of the previous page.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List stories, newest first.

    Example:  tidings stories --lang hr --sort size --limit 10
    """
    with _monitor(read_only=True) as monitor:
        page = monitor.stories(lang=lang, since=since, until=until, entity=entity, place=place, q=q, sort=sort,
                               limit=limit, cursor=cursor, min_size=min_size)
    if as_json:
        _print_json(page)
        return
    table = Table(show_lines=False)
    table.add_column("story", no_wrap=True, min_width=13)
    for column in ("size", "languages", "last seen", "title", "top entities"):
        table.add_column(column)
    if sort == "heat":
        table.add_column("heat")
    for s in page["stories"]:
        table.add_row(s["id"], str(s["size"]), " ".join(f"{k}:{v}" for k, v in s["langs"].items()),
                      (s["last_seen"] or "")[:16], shorten(s["title"], 70), ", ".join(e["name"] for e in s["top_entities"][:4]),
                      *([f"{s['heat']:.2f}"] if sort == "heat" else []))
    out.print(table)
    if page["next_cursor"]:
        out.print(f"more: --cursor {page['next_cursor']}")


@app.command()
def story(
    story_id: Annotated[str, typer.Argument(help="Story id (an old id of a merged story still works).")],
    lang: Annotated[Optional[list[str]], typer.Option(
        "--lang", help="Your languages, most preferred first (repeat); default: the ui.languages setting.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one story: its title in your language, a summary across languages, its articles by language,
    people, organisations, places, dates and quotes.

    Example:  tidings story s371a0def576f --lang hr --lang en
    """
    # writable when the store exists, so that the summary's sentence vectors are cached in it
    with _monitor(read_only=not _store_exists()) as monitor:
        data = monitor.story(story_id, langs=lang or None)
    if as_json:
        _print_json(data)
        return
    out.print(f"[bold]{data['title']}[/bold]  ({data['id']}, {plural(data['size'], 'article')}, "
              f"{data['first_seen']} – {data['last_seen']})", highlight=False)
    if data.get("summary"):
        out.print("\n[bold]Summary[/bold]")
        for s in data["summary"]:
            out.print(f"  {s['lang']}: {escape(s['text'])}  ({escape(s['outlet'] or s['article_id'])})",
                      highlight=False)
    for lang, articles in data["articles"].items():
        out.print(f"\n[bold]{lang}[/bold]")
        for a in articles:
            out.print(f"  {a['published_at'][:10]}  {a['id']}  {a['title']}", highlight=False)
    for heading, key in (("People and organisations", "entities"), ("Places", "places")):
        if data[key]:
            out.print(f"\n[bold]{heading}[/bold]")
            for e in data[key][:25]:
                geo = f" geonames:{e['geonames_id']}" if e.get("geonames_id") else ""
                out.print(f"  {e['name']} [{e['label']}] {e['id']}{geo} in {plural(e['articles'], 'article')}: "
                          + ", ".join(e["forms"][:8]), highlight=False)
    if data["dates"]:
        out.print("\n[bold]Dates mentioned[/bold]")
        for d in data["dates"]:
            span = d["start"] if d["start"] == d["end"] else f"{d['start']} – {d['end']}"
            out.print(f"  {span}: " + ", ".join(d["texts"]), highlight=False)
    if data["quotes"]:
        out.print("\n[bold]Quotes[/bold]")
        for qt in data["quotes"][:10]:
            out.print(f"  {qt['speaker'] or '?'}: “{shorten(qt['text'], 160)}”", highlight=False)


@app.command()
def article(
    article_id: Annotated[str, typer.Argument(help="Article id.")],
    raw: Annotated[bool, typer.Option("--raw", help="Include the raw input as stored.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one article: cleaned text, language, story, entities and dates."""
    with _monitor(read_only=True) as monitor:
        data = monitor.article(article_id, raw=raw)
    if as_json:
        _print_json(data)
        return
    out.print(f"[bold]{data['title']}[/bold]", highlight=False)
    out.print(f"{data['id']}  {data['lang']} ({data['lang_confidence']:.2f})  {data['published_at']}"
              f" (date from {data.get('date_source') or 'unknown'})  "
              f"story {data['story_id'] or '-'}  {data['url'] or data['source']}", highlight=False)
    if data["duplicate_of"]:
        out.print(f"duplicate of {data['duplicate_of']}")
    out.print("\n" + data["text"] + "\n", highlight=False)
    for m in data["mentions"]:
        out.print(f"  {m['label']} {m['text']} -> {m['entity_id']}", highlight=False)
    for d in data["dates"]:
        out.print(f"  DATE {d['text']} -> {d['start']}" + ("" if d["start"] == d["end"] else f"..{d['end']}"),
                  highlight=False)
    if raw and "raw" in data:
        out.print("\n[bold]raw input[/bold]\n" + data["raw"]["text"], highlight=False)
    if data.get("summary_only"):
        err.print("[yellow]summary only[/yellow]: the page behind the link could not be fetched; "
                  "the text is the feed's summary", highlight=False)


@app.command()
def entity(
    entity_id: Annotated[str, typer.Argument(help="Entity id, e.g. geo:170063 or per:putin.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one entity: its names in each language and the stories that mention it."""
    with _monitor(read_only=True) as monitor:
        data = monitor.entity(entity_id)
    if as_json:
        _print_json(data)
        return
    out.print(f"[bold]{data['name']}[/bold] [{data['label']}] {data['id']}", highlight=False)
    for lang, forms in data["variants"].items():
        out.print(f"  {lang}: {', '.join(forms)}", highlight=False)
    for s in data["stories"]:
        out.print(f"  {s['id']}  {plural(s['articles'], 'article')}  {s['title']}", highlight=False)


@app.command()
def entities(
    q: Annotated[Optional[str], typer.Option("--q", "-q", help="A name in any form or script (Asad, Алеппо, Putina), or the start of one.")] = None,
    label: Annotated[Optional[str], typer.Option(help="PER, ORG or LOC.")] = None,
    sort: Annotated[str, typer.Option(help="mentions (most mentioned first) or recent.")] = "mentions",
    limit: Annotated[int, typer.Option(help="How many entities.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List entities, or find them by any of their names: every surface form and transliteration
    reaches its entity ("Asad" finds per:assad, "Алеппо" finds geo:170063).

    Exit status: 1 when -q matches no entity.

    Example:  tidings entities -q Alepu --label LOC
    """
    from .search.entities import find_entities

    with _monitor(read_only=True) as monitor:
        found = find_entities(monitor.store, q, label=label, sort=sort, limit=limit)
    if as_json:
        _print_json(found)
    else:
        table = Table(show_lines=False)
        for column in ("entity", "name", "type", "mentions", "articles", "last seen", "forms"):
            table.add_column(column)
        for e in found:
            table.add_row(e["id"], e["name"], e["label"], str(e["mentions"]), str(e["articles"]),
                          (e["last_seen"] or "")[:10], ", ".join(e["forms"][:6]))
        out.print(table)
    if not found and q:
        err.print(f"no entity matches {q!r}", highlight=False)
        raise typer.Exit(1)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to find: names in any form or script, words in any form, or a description.")],
    lang: Annotated[Optional[str], typer.Option(help="Only articles in this language.")] = None,
    since: Annotated[Optional[str], typer.Option(help="Only articles published on or after this date.")] = None,
    until: Annotated[Optional[str], typer.Option(help="Only articles published on or before this date.")] = None,
    entity: Annotated[Optional[str], typer.Option(help="Only articles naming this entity id (e.g. per:putin).")] = None,
    place: Annotated[Optional[str], typer.Option(help="Only articles naming this place id (e.g. geo:170063).")] = None,
    method: Annotated[Optional[list[str]], typer.Option(
        "--method", help="Only this method (words, entities, meaning); repeat for several. Default: all, fused.")] = None,
    limit: Annotated[int, typer.Option(help="How many results.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Search articles across languages and word forms: words (any inflection), the people, places and
    organisations the query names (in any form or script), and meaning (e5 vectors), fused into one
    ranking grouped by story. Each hit says why it matched.

    Exit status: 0 with hits, 1 when nothing matched (the message says so), 2 on an error.

    Example:  tidings search "Alep" --lang en --since 2016-01-01
    """
    from .search import METHODS

    with _monitor(read_only=True) as monitor:
        result = monitor.search(query, limit=limit, lang=lang, since=since, until=until, entity=entity,
                                place=place, methods=tuple(method or METHODS))
    if as_json:
        _print_json(result)
    elif result["hits"]:
        if result["entities"]:
            out.print("names: " + ", ".join(f"{e['form']} -> {e['name']} ({e['id']})" for e in result["entities"]),
                      highlight=False)
        by_id = {h["id"]: h for h in result["hits"]}
        for group in result["stories"]:
            out.print(f"\n[bold]story {group['story_id'] or '-'}[/bold]", highlight=False)
            for article_id in group["hits"]:
                h = by_id[article_id]
                out.print(f"  {h['id']}  {h['lang']}  {h['published_at'][:10]}  {h['title']}", highlight=False)
                if h.get("snippet"):
                    out.print(_snippet_line(h["snippet"]), highlight=False)
                out.print(f"      why: {_why(h['matched'])}", highlight=False)
    if not result["hits"]:
        err.print(f"no article matches {query!r}", highlight=False)
        raise typer.Exit(1)


def _snippet_line(snippet: str) -> Text:
    """A hit's snippet, dim, with its highlighted words (``[Alep]``) in bold and their brackets
    kept, so the line reads the same without colours (piped, NO_COLOR)."""
    line = Text("      " + snippet, style="dim")
    for marked in re.finditer(r"\[[^\]\n]{1,80}\]", line.plain):
        line.stylize("bold not dim", marked.start(), marked.end())
    return line


def _why(matched: dict) -> str:
    parts = []
    if "entities" in matched:
        parts.append("names " + ", ".join(matched["entities"]))
    if "words" in matched:
        parts.append("words " + ", ".join(matched["words"]))
    if "meaning" in matched:
        parts.append(f"meaning {matched['meaning']:.2f}")
    if "story" in matched:
        parts.append(f"same story as a hit ({matched['story']})")
    return "; ".join(parts) or "-"


@app.command()
def similarity(
    a: Annotated[str, typer.Argument(help="Article id, file or URL.")],
    b: Annotated[str, typer.Argument(help="Article id, file or URL.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The probability that two articles report the same story (0–1, calibrated on labelled pairs)
    and the parts it comes from.

    Example:  tidings similarity ../shared/seeds/000_81ffc60cca3810fd.txt ../shared/seeds/004_03a04a2913114bf7.txt
    """
    with _monitor() as monitor:
        result = monitor.similarity(a, b)
    if as_json:
        _print_json(result)
        return
    parts = ", ".join(f"{k} {v:.3f}" for k, v in result["components"].items())
    out.print(f"score {result['score']:.3f}: probability that they report the same story"
              + (f" (from {parts})" if parts else ""), highlight=False)
    out.print(f"  a: {result['a']['lang']} {result['a']['title']}", highlight=False)
    out.print(f"  b: {result['b']['lang']} {result['b']['title']}", highlight=False)


@app.command()
def export(
    fmt: Annotated[str, typer.Option("--format", "-f", help="json, csv, geojson or jsonl (one full article a line).")] = "json",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="File to write (default: stdout).")] = None,
) -> None:
    """Export stories and articles as JSON, CSV (one row per article), GeoJSON (story places) or
    JSONL (one full article a line: text, entities, places, dates, story; see docs/export.md).

    Example:  tidings export --format geojson -o places.geojson
              tidings export --format jsonl -o articles.jsonl
    """
    with _monitor(read_only=True) as monitor:
        if output is None:
            count = monitor.export(fmt, sys.stdout)
        else:
            count = _export_to_file(monitor, fmt, output)
    err.print(f"{plural(count, 'record')} exported")


def _export_to_file(monitor, fmt: str, output: Path) -> int:
    """Write through ``output``.part and rename, so a failed export leaves no half file behind;
    a folder that does not exist or cannot be written is a user error (T002), not a traceback."""
    if output.is_dir():
        raise FileAccessError("is a directory", source=str(output), hint="give a file name")
    tmp = output.with_name(output.name + ".part")
    try:
        with tmp.open("w", encoding="utf-8", newline="") as handle:
            count = monitor.export(fmt, handle)
        tmp.replace(output)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        exc.filename = str(output)
        raise as_user_error(exc, "write the export") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return count


# ---- serve -------------------------------------------------------------------------------
@app.command()
def serve(
    host: Annotated[Optional[str], typer.Option(help="Address to listen on (default: server.host, 127.0.0.1).")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port (default: server.port, 8000).")] = None,
    watch_sources: Annotated[bool, typer.Option(
        "--watch", help="Also follow the sources (tidings watch) in this process: a deployment in one command.")] = False,
) -> None:
    """Serve the REST API (/api, OpenAPI at /docs) and the web pages over the store.

    The store is opened read-only unless a write token is set (server.token, or the environment
    variable TIDINGS_SERVER__TOKEN): then POST /api/articles ingests with 'Authorization: Bearer TOKEN'.

    Example:  tidings --db tidings.db serve --port 8000
              tidings serve --watch      (web pages + API + the watcher, stopped together by Ctrl+C)
    """
    import uvicorn

    from .api import create_app

    settings = _settings()
    server = settings.section("server")
    host = host or server["host"]
    port = port if port is not None else int(server["port"])
    state.db = state.db or settings.section("store")["path"]
    if watch_sources:
        from .store import Store
        Store.open(state.db).close()  # the watcher writes: create or migrate the store before readers open it
    application = create_app(state.db, settings, read_only=not server["token"], watch=watch_sources)
    mode = "read-write (POST /api/articles needs the token)" if server["token"] else "read-only"
    if watch_sources:
        mode += ", watching its sources"
    if server.get("read_token"):
        mode += ", pages and API need the read token"
    err.print(f"serving {_shown_db()} {mode} on http://{host}:{port}/  (API docs: /docs; Ctrl+C stops)",
              highlight=False, soft_wrap=True)
    if host not in ("127.0.0.1", "localhost", "::1") and not server.get("read_token"):
        err.print(f"[yellow]warning[/yellow] listening on {host}: anyone who can reach it can read the store",
                  highlight=False)
    uvicorn.run(application, host=host, port=port, log_level="debug" if state.debug else "warning")


# ---- maintenance (tidings.maintenance) ---------------------------------------------------------
@app.command()
def check(
    repair: Annotated[bool, typer.Option("--repair", help="Fix what can be fixed, then check again.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Verify the store: SQLite's page check, memberships, orphans, story sizes and state, full-text
    index. Exit code 1 when a problem is left.

    Example:  tidings --db tidings.db check --repair
    """
    from .maintenance import check as run
    from .store import Store

    settings = _settings()
    state.db = state.db or settings.section("store")["path"]
    if not _store_exists():
        raise TidingsError("no such store", source=state.db)
    with Store.open(state.db, read_only=not repair) as store:
        report = run(store, repair=repair)
    if as_json:
        _print_json(report.as_dict())
    else:
        for f in report.findings:
            mark = "[green]ok[/green]" if f.ok else ("[yellow]repaired[/yellow]" if f.repaired else "[red]FAIL[/red]")
            line = f"{mark:>8} {f.name}: {f.description}"
            if not f.ok:
                line += f" — {f.count}" + (f" (e.g. {', '.join(f.examples[:3])})" if f.examples else "")
                line += "" if f.repairable else " [not repairable here]"
            out.print(line, highlight=False, soft_wrap=True)
        out.print("store is consistent" if report.ok else "problems found" + ("" if repair else "; try --repair"))
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def backup(
    path: Annotated[Path, typer.Argument(help="File to write the copy to (a SQLite database; "
                                               "for PostgreSQL a pg_dump archive).")],
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace PATH if it exists.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Copy the store, consistent as of one moment, while it is in use (SQLite's online backup;
    on PostgreSQL pg_dump's custom format, restored with pg_restore -d NEWDB PATH).

    Example:  tidings --db tidings.db backup backups/tidings-2026-12-06.db
    """
    from .maintenance import backup as run
    from .store import Store

    settings = _settings()
    state.db = state.db or settings.section("store")["path"]
    if not _store_exists():
        raise TidingsError("no such store", source=state.db)
    with Store.open(state.db, read_only=True) as store:
        result = run(store, path, overwrite=overwrite, pg_dump=settings.section("store").get("pg_dump", ""))
    if as_json:
        _print_json(result)
    else:
        out.print(f"{result['articles']} articles, {result['bytes']:,} bytes copied to {result['path']}",
                  highlight=False)


# ---- alerts (tidings.watch.alerts) -------------------------------------------------------------
alerts_app = typer.Typer(help="Alerts: be told when a matching story appears, grows or reaches a new language.",
                         no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")


def _writable_store():
    from .store import Store

    settings = _settings()
    state.db = state.db or settings.section("store")["path"]
    return Store.open(state.db), settings


@alerts_app.command("add")
def alerts_add(
    name: Annotated[str, typer.Argument(help="A name for the alert (unique).")],
    entity: Annotated[Optional[str], typer.Option(help="Stories naming this entity id (e.g. per:putin).")] = None,
    place: Annotated[Optional[str], typer.Option(help="Stories naming this place id (e.g. geo:170063).")] = None,
    q: Annotated[Optional[str], typer.Option("--q", "-q", help="Stories with an article matching these words.")] = None,
    lang: Annotated[Optional[str], typer.Option(help="Stories with an article in this language.")] = None,
    min_languages: Annotated[Optional[int], typer.Option(min=1, help="Stories in at least N languages.")] = None,
    min_size: Annotated[Optional[int], typer.Option(min=1, help="Stories of at least N articles.")] = None,
    notify: Annotated[Optional[list[str]], typer.Option(
        "--notify", help="Apprise URL to notify (repeatable): json://host/path, mailto://..., slack://...")] = None,
    growth: Annotated[Optional[int], typer.Option(
        min=1, help="Notify each time a matching story has N more articles [default: alerts.growth_step].")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the alert as JSON.")] = False,
) -> None:
    """Define an alert. Events: a story matches (new), grows by N articles, reaches a new language.
    Stories that match already are the starting point (no event for them until they change).

    Example:  tidings alerts add izmir --place geo:311046 --min-languages 2 --notify json://127.0.0.1:9000/hook
    """
    from .watch.alerts import add_alert

    store, _ = _writable_store()
    with store:
        alert = add_alert(store, name, entity=entity, place=place, q=q, lang=lang, min_languages=min_languages,
                          min_size=min_size, notify=notify or [], growth=growth)
    if as_json:
        _print_json(alert.as_dict())
    else:
        out.print(f"alert {alert.id} {alert.name!r} added; its Atom feed: /alerts/{alert.id}.atom", highlight=False)


@alerts_app.command("list")
def alerts_list(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List alerts with their filters, targets and delivery state (sent, pending, failed, last error).

    Example:  tidings alerts list --json
    """
    from .watch.alerts import list_alerts

    store, _ = _writable_store()
    with store:
        alerts = list_alerts(store)
    if as_json:
        _print_json(alerts)
        return
    if not alerts:
        out.print("no alerts (tidings alerts add NAME --entity ID ...)")
    for a in alerts:
        filters = " ".join(f"{k}={v}" for k, v in a["filters"].items())
        d = a["deliveries"]
        out.print(f"{a['id']}  {a['name']}  {filters}  {a['events']} events  "
                  f"{d['sent']} sent, {d['pending']} pending, {d['failed']} failed", highlight=False)
        for url in a["notify"]:
            out.print(f"    -> {url}", highlight=False)
        if a["last_error"]:
            out.print(f"    last error {a['last_error']['last_attempt_at']}: {a['last_error']['last_error']}",
                      highlight=False)


@alerts_app.command("remove")
def alerts_remove(ref: Annotated[str, typer.Argument(help="Alert id or name.")]) -> None:
    """Remove an alert, its events and its pending deliveries.

    Example:  tidings alerts remove izmir
    """
    from .watch.alerts import remove_alert

    store, _ = _writable_store()
    with store:
        alert = remove_alert(store, ref)
    out.print(f"alert {alert.id} {alert.name!r} removed", highlight=False)


@alerts_app.command("test")
def alerts_test(ref: Annotated[str, typer.Argument(help="Alert id or name.")]) -> None:
    """Send a test notification to every target of an alert now; exit 1 if one fails.

    Example:  tidings alerts test izmir
    """
    from .watch.alerts import send_test

    store, settings = _writable_store()
    with store:
        results = send_test(store, ref, settings)
    for url, error in results.items():
        out.print(f"{'sent' if error is None else 'FAILED'}  {url}" + (f": {error}" if error else ""), highlight=False)
    if not results:
        out.print("this alert has no --notify target; it is read through its Atom feed")
    if any(results.values()):
        raise typer.Exit(1)


@alerts_app.command("deliver")
def alerts_deliver() -> None:
    """Send the notifications that are due now (retries of failed ones included); for cron.

    Example:  tidings alerts deliver
    """
    from .watch.alerts import deliver_pending

    store, settings = _writable_store()
    with store:
        counts = deliver_pending(store, settings)
    out.print(f"{counts['sent']} sent, {counts['failed']} failed ({counts['gave_up']} given up)")
# ---- sources and watch -----------------------------------------------------------------------
def _source_ids(added: list[tuple[str, int | None]], as_json: bool) -> None:
    if as_json:
        _print_json([{"target": t, "id": i, "added": i is not None} for t, i in added])
        return
    for target, source_id in added:
        if source_id is None:
            out.print(f"already a source: {target}", highlight=False)
        else:
            out.print(f"{source_id}  {target}", highlight=False)


@sources_app.command("add")
def sources_add(
    targets: Annotated[list[str], typer.Argument(help="Feed (RSS/Atom/JSON Feed), sitemap or home page URLs, or local folders.")],
    every: Annotated[Optional[str], typer.Option("--every", help="Poll interval: 90s, 15m, 1h, 1d [default: watch.every, 15m].")] = None,
    name: Annotated[Optional[str], typer.Option("--name", help="Name shown for the source (and stored as the articles' outlet).")] = None,
    lang: Annotated[Optional[str], typer.Option("--lang", help="Language of its articles (a hint for detection), e.g. hr.")] = None,
    tag: Annotated[Optional[list[str]], typer.Option("--tag", help="A tag; repeat for more.")] = None,
    kind: Annotated[Optional[str], typer.Option("--kind", help="feed, sitemap, page or folder [default: decided at the first poll].")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Follow feeds, sitemaps, sites or folders: each is polled by `tidings watch`, due at once.

    A home page is searched for the feeds it links to (or the sitemaps its robots.txt names);
    a folder's new files are ingested.

    Example:  tidings sources add https://example.org/feed.xml https://example.hr/ --every 15m --lang hr
              tidings sources add ~/inbox --every 1m --tag local
    """
    from .watch import add_sources

    with _monitor() as monitor:
        added = add_sources(monitor.store, targets, every=every, settings=monitor.settings, name=name, lang=lang,
                            tags=tag or (), kind=kind)
    _source_ids(added, as_json)


@sources_app.command("list")
def sources_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the sources with their health: last fetch and HTTP status, next due, articles in the
    last 24 hours, errors in a row, paused.

    Example:  tidings sources list --json
    """
    from .watch import list_sources

    with _monitor() as monitor:
        rows = list_sources(monitor.store)
    if as_json:
        _print_json(rows)
        return
    if not rows:
        out.print("no sources yet: tidings sources add URL")
        return
    table = Table(show_lines=False)
    for column in ("id", "source", "kind", "every", "last fetch", "status", "next due", "24 h", "errors", "state"):
        table.add_column(column)
    for s in rows:
        status = str(s["last_status"] or "-")
        table.add_row(str(s["id"]), (s["name"] or s["url"])[:60], s["kind"], s["every"], _when(s["last_fetch"]),
                      status, _when(s["next_due"]), str(s["articles_24h"]), str(s["errors_in_row"]),
                      "[red]paused[/red]" if s["paused"] else "active")
    out.print(table)
    for s in rows:
        if s["last_error"]:
            err.print(f"{s['id']}: {s['last_error']}", highlight=False, soft_wrap=True)


def _when(value: Optional[str]) -> str:
    return (value or "-")[:16].replace("T", " ")


@sources_app.command("remove")
def sources_remove(
    source_id: Annotated[int, typer.Argument(help="Source id (see tidings sources list).")],
) -> None:
    """Stop following a source (the articles it gave stay).

    Example:  tidings sources remove 3
    """
    from .watch import remove_source

    with _monitor() as monitor:
        remove_source(monitor.store, source_id)
    out.print(f"removed source {source_id}")


@sources_app.command("pause")
def sources_pause(
    source_id: Annotated[int, typer.Argument(help="Source id.")],
) -> None:
    """Stop polling a source until resumed.

    Example:  tidings sources pause 3
    """
    from .watch import set_paused

    with _monitor() as monitor:
        set_paused(monitor.store, source_id, True)
    out.print(f"paused source {source_id}")


@sources_app.command("resume")
def sources_resume(
    source_id: Annotated[int, typer.Argument(help="Source id.")],
) -> None:
    """Poll a paused source again (due at once, its error count reset).

    Example:  tidings sources resume 3
    """
    from .watch import set_paused

    with _monitor() as monitor:
        set_paused(monitor.store, source_id, False)
    out.print(f"resumed source {source_id}")


@sources_app.command("import")
def sources_import(
    path: Annotated[Path, typer.Argument(help="OPML file (exported by a feed reader).")],
    every: Annotated[Optional[str], typer.Option("--every", help="Poll interval [default: watch.every].")] = None,
    tag: Annotated[Optional[list[str]], typer.Option("--tag", help="A tag for all of them; repeat for more.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Add the subscriptions of an OPML file (its folders become tags).

    Example:  tidings sources import feeds.opml --every 30m
    """
    from .watch import import_opml

    with _monitor() as monitor:
        added = import_opml(monitor.store, path, every=every, settings=monitor.settings, tags=tag or ())
    _source_ids(added, as_json)


@sources_app.command("export")
def sources_export(
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="File to write (default: stdout).")] = None,
) -> None:
    """Write the sources as OPML, for a feed reader or another tidings.

    Example:  tidings sources export -o feeds.opml
    """
    from .watch import export_opml

    with _monitor() as monitor:
        text = export_opml(monitor.store)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        err.print(f"written {output}")


@app.command()
def watch(
    once: Annotated[bool, typer.Option("--once", help="One pass over the due sources, then exit (cron, tests).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print each pass's report as a JSON line.")] = False,
) -> None:
    """Follow the sources: poll each when due, fetch the page behind every new entry, and ingest it.

    Runs until Ctrl+C or SIGTERM (the pass in hand is finished and committed, exit 0).
    Conditional GETs, backoff on errors, robots.txt and a delay per host: see docs/watch.md.

    Example:  tidings sources add https://example.org/feed.xml && tidings watch
              tidings watch --once --json
    """
    import signal
    import threading

    from .watch import PassReport, Watcher

    stop = threading.Event()

    def report(result: PassReport) -> None:
        if as_json:
            sys.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False) + "\n")
            sys.stdout.flush()
            return
        for error in result.errors:
            err.print(f"[red]error[/red] {error.code} {error}", highlight=False, soft_wrap=True)
        out.print(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S}  {result.sources} sources polled "
                  f"({result.not_modified} not modified, {result.failed} failed), {result.pages} pages fetched, "
                  f"{len(result.added)} added, {result.summary_only} summary-only, "
                  f"{len(result.stories_touched)} stories updated", highlight=False)

    def on_signal(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt  # a second Ctrl+C: stop now
        err.print("stopping after the pass in hand (Ctrl+C again to stop at once)")
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with _monitor() as monitor, Watcher(monitor) as watcher:
            if not monitor.store.sources():
                err.print("no sources yet: add some with  tidings sources add URL", highlight=False)
            if once:
                report(watcher.run_once(stop=stop))
            else:
                if not as_json:
                    err.print(f"watching the sources of {_shown_db()} (Ctrl+C stops)", highlight=False)
                watcher.run(stop, on_pass=report)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# ---- evaluate ----------------------------------------------------------------------------
@evaluate_app.command("clustering")
def evaluate_clustering(
    gold: Annotated[Path, typer.Argument(help="JSONL with id, lang, published_at, title[, text], cluster.")],
    predictions: Annotated[Optional[Path], typer.Option(help="Write one {id, cluster} line per article here.")] = None,
    limit: Annotated[Optional[int], typer.Option(help="Only the first N records in time order (quick look).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Replay a labelled set in time order through the real pipeline into a temporary store and score
    the stories: BCubed and pairwise P/R/F1, overall, per language and cross-lingual.

    Example:  tidings evaluate clustering ../shared/data/og2021.dev.jsonl
    """
    from .evaluate import evaluate_clustering as run, format_clustering

    result = run(gold, _settings(), predictions_path=predictions, limit=limit, progress=err.is_terminal)
    if as_json:
        _print_json(result)
    else:
        out.print(format_clustering(result), highlight=False)


@evaluate_app.command("search")
def evaluate_search(
    gold: Annotated[Path, typer.Argument(help="JSONL with id, lang, published_at, title[, text], cluster.")],
    limit: Annotated[Optional[int], typer.Option(help="Only the first N records in time order (quick look).")] = None,
    store: Annotated[Optional[Path], typer.Option(
        help="Replay into this store file and keep it, or reuse it if it exists (repeated runs).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Replay a clustering gold file into a temporary store, query with each article's title and count
    the other articles of its gold cluster as relevant: success@10, recall@10 and MRR per method
    (words, entities, meaning, fused), over all queries and cross-lingually.

    Example:  tidings evaluate search ../shared/data/og2021.dev.jsonl
    """
    from .evaluate import evaluate_search as run, format_search

    result = run(gold, _settings(), limit=limit, progress=err.is_terminal, store_path=store)
    if as_json:
        _print_json(result)
    else:
        out.print(format_search(result), highlight=False)


@evaluate_app.command("similarity")
def evaluate_similarity(
    pairs: Annotated[Path, typer.Argument(help="JSONL pairs with text1, text2, lang1, lang2 and 'overall' (1 = very similar … 4).")],
    limit: Annotated[Optional[int], typer.Option(help="Only the first N pairs.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    embedding_cache: Annotated[Optional[Path], typer.Option(
        "--embedding-cache", help="Store file whose embedding cache is reused and filled (a second run skips the encoder).")] = None,
) -> None:
    """Pearson and Spearman of the similarity score against human ratings (all, mono-, cross-lingual).

    Example:  tidings evaluate similarity ../shared/data/semeval2022_t8.dev.jsonl
    """
    from .evaluate import evaluate_similarity as run, format_similarity

    result = run(pairs, _settings(), limit=limit, progress=err.is_terminal, embedding_cache=embedding_cache)
    if as_json:
        _print_json(result)
    else:
        out.print(format_similarity(result), highlight=False)


@evaluate_app.command("entities")
def evaluate_entities(
    path: Annotated[Path, typer.Argument(help="IOB2 file (CoNLL style: token in column 2, tag in column 3).")],
    lang: Annotated[str, typer.Option("--lang", help="Language code of the file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    errors: Annotated[int, typer.Option(
        "--errors", min=0, metavar="N",
        help="Also list the N most frequent errors of each kind: wrong label, boundary, spurious, missed.")] = 0,
) -> None:
    """Precision, recall and F1 of the named-entity recogniser (PER/LOC/ORG, exact spans, conlleval style).

    Example:  tidings evaluate entities ../shared/data/uner/hr_set-dev.iob2 --lang hr --errors 20
    """
    from .evaluate import evaluate_entities as run, format_entities

    if not path.is_file():
        raise FileAccessError("no such file", source=str(path))
    result = run(path, lang, errors=errors)
    if as_json:
        _print_json(result)
    else:
        out.print(format_entities(result), highlight=False)


# ---- status --------------------------------------------------------------------------------
@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the store: backend, address, schema revision, counts, and which search runs where.

    Example:  tidings --db postgresql://tidings@db.example.org:5432/news status
    """
    with _monitor(read_only=True) as monitor:
        data = monitor.store.status()
    if as_json:
        _print_json(data)
        return
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    for key, value in data.items():
        if key == "counts":
            value = ", ".join(f"{n:,} {name}" for name, n in value.items())
        table.add_row(key.replace("_", " "), str(value))
    out.print(table)


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become one clear line on stderr, never a traceback (unless --debug);
    global options are accepted after the command too (see tidings.cliconv)."""
    sys.exit(run_cli(app, argv, err, debug=lambda: state.debug))


if __name__ == "__main__":
    main()
