"""The command line as people type it (issue #15 point 3): global options after the command,
flags that look like flags, help texts without stray spaces, one error-line format for every
user error, plurals, cut text ending in "…", a progress bar with count, percentage and ETA."""

from __future__ import annotations

import io
import re
import subprocess
import sys

import pytest
import typer.main
from rich.console import Console
from typer.testing import CliRunner

from conftest import EXAMPLES, build_api_store
from tidings.cli import app
from tidings.cliconv import hoist_global_options, plural, progress, shorten

runner = CliRunner()
ERROR_LINE = re.compile(r"^error T\d{3}: \S")


def _cli(*args, cwd=None):
    """The real command in a new process (the console script's entry point, as a user runs it)."""
    return subprocess.run([sys.executable, "-m", "tidings", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


@pytest.fixture()
def main(capsys, monkeypatch):
    """tidings.cli.main in this process (faster than a subprocess): (exit status, stdout, stderr)."""
    from tidings.cli import main as cli_main

    def call(*args, cwd=None):
        if cwd is not None:
            monkeypatch.chdir(cwd)
        with pytest.raises(SystemExit) as exit_:
            cli_main([str(a) for a in args])
        captured = capsys.readouterr()
        return subprocess.CompletedProcess(args, exit_.value.code, captured.out, captured.err)
    return call


def _all_commands(group=None, path=()):
    group = group or typer.main.get_command(app)
    yield path
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _all_commands(command, path + (name,))
        else:
            yield path + (name,)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    db = tmp_path_factory.mktemp("cli") / "t.db"
    build_api_store(db)
    return db


def test_global_options_are_hoisted_from_after_the_command():
    group = typer.main.get_command(app)
    assert hoist_global_options(group, ["serve", "--db", "x.db", "--port", "9"]) == \
        ["--db", "x.db", "serve", "--port", "9"]
    assert hoist_global_options(group, ["evaluate", "entities", "f.iob2", "--lang", "hr", "--debug"]) == \
        ["--debug", "evaluate", "entities", "f.iob2", "--lang", "hr"]
    assert hoist_global_options(group, ["search", "--db=x.db", "--limit", "3", "q"]) == \
        ["--db=x.db", "search", "--limit", "3", "q"]
    # after "--" everything is an argument; a value that looks like an option stays a value
    assert hoist_global_options(group, ["search", "--", "--db"]) == ["search", "--", "--db"]
    assert hoist_global_options(group, ["search", "--limit", "--db"]) == ["search", "--limit", "--db"]


def test_db_after_the_command_reads_that_store(store, tmp_path):
    before = _cli("--db", store, "stories", "--json", cwd=tmp_path)
    after = _cli("stories", "--json", "--db", store, cwd=tmp_path)
    assert before.returncode == after.returncode == 0, after.stderr
    assert before.stdout == after.stdout and '"s-aleppo"' in after.stdout


@pytest.mark.parametrize("path", list(_all_commands()), ids=lambda p: " ".join(p) or "tidings")
def test_help_texts_read_well(path):
    result = runner.invoke(app, [*path, "--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    text = result.output
    assert "<bool>" not in text  # a flag takes no value
    assert not re.search(r"\w \.(\s|$)", text), text  # no space before a full stop
    usage = next(line for line in text.splitlines() if "Usage:" in line)
    assert "{" not in usage  # PATHS..., not {paths}...
    if path == ("ingest",):
        assert "--json " in text and "PATHS..." in text
    if path == ():
        assert "[default: store.path setting, tidings.db]" in " ".join(text.replace("│", " ").split())


def test_flags_take_no_value_and_the_error_says_so(store, main):
    result = main("stories", "--json", "true", "--db", store)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error T001: Got unexpected extra argument(s) (true) (see: tidings stories --help)"]


@pytest.mark.parametrize("args, code, words", [
    (["serve", "--nope"], "T001", "No such option: --nope"),
    (["stories", "--limit", "abc"], "T001", "--limit"),
    (["story"], "T001", "Missing argument"),
    (["no-such-command"], "T001", "No such command"),
    (["export", "-o", "/nonexistent/dir/x.csv"], "T002", "/nonexistent/dir/x.csv: cannot write the export"),
    (["export", "-o", "."], "T002", "is a directory"),
    (["export", "--format", "xml"], "T600", "unknown export format"),
    (["story", "s-nope"], "T200", "no story"),
    (["ingest", "--default-date", "soon", "x.txt"], "T001", "--default-date"),
    (["evaluate", "entities", "/nonexistent.iob2", "--lang", "hr"], "T002", "no such file"),
])
def test_every_user_error_is_one_line_with_its_code(store, tmp_path, args, code, words, main):
    result = main("--db", store, *args, cwd=tmp_path)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and ERROR_LINE.match(lines[0]), result.stderr
    assert lines[0].startswith(f"error {code}: ") and words in lines[0], lines[0]
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.glob("*.part"))


def test_per_input_errors_use_the_same_format(tmp_path, main):
    bad = tmp_path / "empty.txt"
    bad.write_text("  \n", encoding="utf-8")
    result = main("--db", tmp_path / "t.db", "ingest", bad, tmp_path / "missing.txt")
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 2 and all(ERROR_LINE.match(line) for line in errors), result.stderr
    assert f"error T107: {tmp_path / 'missing.txt'}: no such file or directory" in errors
    assert "0 added, 0 duplicates, 0 already stored, 2 failed; 0 stories updated" in " ".join(result.stdout.split())


def test_plural_and_shorten():
    assert [plural(n, "article") for n in (0, 1, 2)] == ["0 articles", "1 article", "2 articles"]
    assert plural(1, "story") == "1 story" and plural(3, "story") == "3 stories"
    text = "The river burst its banks near Zagreb on Tuesday, flooding villages along the Sava"
    cut = shorten(text, 40)
    assert cut.endswith("…") and len(cut) <= 40 and text.startswith(cut[:-1])
    assert shorten("short", 40) == "short"


def test_story_counts_read_right(store):
    result = runner.invoke(app, ["--db", str(store), "story", "s-lyon"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "1 article," in result.output and "1 articles" not in result.output


def test_progress_bar_shows_count_percentage_and_eta():
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=100)
    with progress(console, "inputs", total=8) as bar:
        bar.advance(2, "a.txt")
        bar._bar.refresh()
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", buffer.getvalue())
    assert "2/8 inputs" in shown and "25%" in shown and "ETA" in shown
    buffer = io.StringIO()
    with progress(Console(file=buffer, force_terminal=False), "inputs", total=8) as bar:
        bar.advance(2)
    assert buffer.getvalue() == ""  # not a terminal: nothing drawn


def test_inputs_are_counted_ahead_exactly():
    from tidings.ingest import count_documents, read_sources
    assert count_documents([EXAMPLES]) == sum(1 for _ in read_sources([EXAMPLES]))
    assert count_documents(["https://example.org/feed.xml"]) is None
