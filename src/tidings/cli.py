"""The ``tidings`` command: a thin layer over the Python API (:func:`tidings.open`)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from . import __version__
from .config import Settings
from .errors import TidingsError

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
        "--default-date", help="Publication date (ISO 8601) for inputs that carry none; default: now.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    workers: Annotated[Optional[int], typer.Option(
        "--workers", min=0, help="Processes that analyse documents (0: one per CPU core) "
                                 "[default: ingest.workers setting, 1]. Pays off for thousands of articles.")] = None,
) -> None:
    """Read articles, clean them, find entities and dates, and group them into stories.

    Bad inputs are reported with the file, line or URL and the reason; the rest goes on.
    The exit code is 1 if any input failed.

    Example:  tidings ingest examples/sample https://example.org/feed.xml
              tidings ingest --workers 2 big-archive.jsonl
    """
    when = None
    if default_date:
        try:
            when = datetime.fromisoformat(default_date.replace("Z", "+00:00"))
        except ValueError:
            raise TidingsError(f"not an ISO 8601 date: {default_date!r}", source="--default-date") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
    with _monitor(overrides={"ingest": {"workers": workers}} if workers is not None else None) as monitor:
        if err.is_terminal and not as_json:
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
            with Progress(SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed} articles"),
                          TimeElapsedColumn(), console=err, transient=True) as bar:
                task = bar.add_task("ingesting", total=None)
                report = monitor.ingest(paths, default_date=when,
                                        progress=lambda source, n: bar.update(task, advance=n,
                                                                              description=Path(source).name[:40]))
        else:
            report = monitor.ingest(paths, default_date=when)
    if as_json:
        _print_json(report.as_dict())
    else:
        for error in report.errors:
            err.print(f"[red]error[/red] {error.code} {error}", highlight=False, soft_wrap=True)
        out.print(f"{len(report.added)} added, {len(report.duplicates)} duplicates, "
                  f"{report.already_stored} already stored, {len(report.errors)} failed; "
                  f"{len(report.stories_touched)} stories updated in {_shown_db()}")
    if report.errors:
        raise typer.Exit(1)


# ---- listing -----------------------------------------------------------------------------
@app.command()
def stories(
    lang: Annotated[Optional[str], typer.Option(help="Only stories with an article in this language.")] = None,
    since: Annotated[Optional[str], typer.Option(help="Only stories active on or after this date.")] = None,
    until: Annotated[Optional[str], typer.Option(help="Only stories that started on or before this date.")] = None,
    entity: Annotated[Optional[str], typer.Option(help="Only stories naming this entity id (e.g. per:putin).")] = None,
    place: Annotated[Optional[str], typer.Option(help="Only stories naming this place id (e.g. geo:170063).")] = None,
    q: Annotated[Optional[str], typer.Option("--q", "-q", help="Only stories with an article matching this text.")] = None,
    sort: Annotated[str, typer.Option(help="newest or size.")] = "newest",
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
    for s in page["stories"]:
        table.add_row(s["id"], str(s["size"]), " ".join(f"{k}:{v}" for k, v in s["langs"].items()),
                      (s["last_seen"] or "")[:16], s["title"][:70], ", ".join(e["name"] for e in s["top_entities"][:4]))
    out.print(table)
    if page["next_cursor"]:
        out.print(f"more: --cursor {page['next_cursor']}")


@app.command()
def story(
    story_id: Annotated[str, typer.Argument(help="Story id (an old id of a merged story still works).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one story: its articles by language, people, organisations, places, dates and quotes."""
    with _monitor(read_only=True) as monitor:
        data = monitor.story(story_id)
    if as_json:
        _print_json(data)
        return
    out.print(f"[bold]{data['title']}[/bold]  ({data['id']}, {data['size']} articles, "
              f"{data['first_seen']} – {data['last_seen']})")
    for lang, articles in data["articles"].items():
        out.print(f"\n[bold]{lang}[/bold]")
        for a in articles:
            out.print(f"  {a['published_at'][:10]}  {a['id']}  {a['title']}", highlight=False)
    for heading, key in (("People and organisations", "entities"), ("Places", "places")):
        if data[key]:
            out.print(f"\n[bold]{heading}[/bold]")
            for e in data[key][:25]:
                geo = f" geonames:{e['geonames_id']}" if e.get("geonames_id") else ""
                out.print(f"  {e['name']} [{e['label']}] {e['id']}{geo} in {e['articles']} articles: "
                          + ", ".join(e["forms"][:8]), highlight=False)
    if data["dates"]:
        out.print("\n[bold]Dates mentioned[/bold]")
        for d in data["dates"]:
            span = d["start"] if d["start"] == d["end"] else f"{d['start']} – {d['end']}"
            out.print(f"  {span}: " + ", ".join(d["texts"]), highlight=False)
    if data["quotes"]:
        out.print("\n[bold]Quotes[/bold]")
        for qt in data["quotes"][:10]:
            out.print(f"  {qt['speaker'] or '?'}: “{qt['text'][:160]}”", highlight=False)


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
    out.print(f"{data['id']}  {data['lang']} ({data['lang_confidence']:.2f})  {data['published_at']}  "
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
        out.print(f"  {s['id']}  {s['articles']} articles  {s['title']}", highlight=False)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="Words to find (all must occur; accents ignored).")],
    limit: Annotated[int, typer.Option(help="How many results.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Full-text search over article titles and texts.

    Example:  tidings search "Aleppo corridors"
    """
    with _monitor(read_only=True) as monitor:
        hits = monitor.search(query, limit=limit)
    if as_json:
        _print_json(hits)
        return
    for h in hits:
        out.print(f"{h['id']}  {h['lang']}  {h['published_at'][:10]}  story {h['story_id']}  {h['title']}\n"
                  f"    {h['snippet']}", highlight=False)


@app.command()
def similarity(
    a: Annotated[str, typer.Argument(help="Article id, file or URL.")],
    b: Annotated[str, typer.Argument(help="Article id, file or URL.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Score how likely two articles report the same story (0–1) and show its components.

    Example:  tidings similarity ../shared/seeds/000_81ffc60cca3810fd.txt ../shared/seeds/004_03a04a2913114bf7.txt
    """
    with _monitor() as monitor:
        result = monitor.similarity(a, b)
    if as_json:
        _print_json(result)
        return
    out.print(f"score {result['score']:.3f}  (" + ", ".join(f"{k} {v:.3f}" for k, v in result["components"].items())
              + ")")
    out.print(f"  a: {result['a']['lang']} {result['a']['title']}", highlight=False)
    out.print(f"  b: {result['b']['lang']} {result['b']['title']}", highlight=False)


@app.command()
def export(
    fmt: Annotated[str, typer.Option("--format", "-f", help="json, csv or geojson.")] = "json",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="File to write (default: stdout).")] = None,
) -> None:
    """Export stories and articles as JSON, CSV (one row per article) or GeoJSON (story places).

    Example:  tidings export --format geojson -o places.geojson
    """
    with _monitor(read_only=True) as monitor:
        if output is None:
            count = monitor.export(fmt, sys.stdout)
        else:
            tmp = output.with_name(output.name + ".part")
            with tmp.open("w", encoding="utf-8", newline="") as handle:
                count = monitor.export(fmt, handle)
            tmp.replace(output)
    err.print(f"{count} records exported")


# ---- serve -------------------------------------------------------------------------------
@app.command()
def serve(
    host: Annotated[Optional[str], typer.Option(help="Address to listen on (default: server.host, 127.0.0.1).")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port (default: server.port, 8000).")] = None,
) -> None:
    """Serve the REST API (/api, OpenAPI at /docs) and the web pages over the store.

    The store is opened read-only unless a write token is set (server.token, or the environment
    variable TIDINGS_SERVER__TOKEN): then POST /api/articles ingests with 'Authorization: Bearer TOKEN'.

    Example:  tidings --db tidings.db serve --port 8000
    """
    import uvicorn

    from .api import create_app

    settings = _settings()
    server = settings.section("server")
    host = host or server["host"]
    port = port if port is not None else int(server["port"])
    application = create_app(state.db, settings, read_only=not server["token"])
    mode = "read-write (POST /api/articles needs the token)" if server["token"] else "read-only"
    err.print(f"serving {_shown_db()} {mode} on http://{host}:{port}/  (API docs: /docs; Ctrl+C stops)",
              highlight=False, soft_wrap=True)
    if host not in ("127.0.0.1", "localhost", "::1"):
        err.print(f"[yellow]warning[/yellow] listening on {host}: anyone who can reach it can read the store",
                  highlight=False)
    uvicorn.run(application, host=host, port=port, log_level="debug" if state.debug else "warning")


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


@evaluate_app.command("similarity")
def evaluate_similarity(
    pairs: Annotated[Path, typer.Argument(help="JSONL pairs with text1, text2, lang1, lang2 and 'overall' (1 = very similar … 4).")],
    limit: Annotated[Optional[int], typer.Option(help="Only the first N pairs.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Pearson and Spearman of the similarity score against human ratings (all, mono-, cross-lingual).

    Example:  tidings evaluate similarity ../shared/data/semeval2022_t8.dev.jsonl
    """
    from .evaluate import evaluate_similarity as run, format_similarity

    result = run(pairs, _settings(), limit=limit, progress=err.is_terminal)
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
        raise TidingsError("no such file", source=str(path))
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


def main() -> None:
    """Entry point: user errors become one clear line on stderr, never a traceback (unless --debug)."""
    try:
        app()
    except TidingsError as exc:
        if state.debug:
            raise
        err.print(f"[red]error[/red] {exc.code}: {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
