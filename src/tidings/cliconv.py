"""Conventions shared by every ``tidings`` command (see docs/cli.md, "Conventions for commands").

One place for what makes the command line feel finished, so that a new command gets it by being
added to the Typer app, with no code of its own:

- global options (``--db``, ``--config``, ``--debug``) are accepted after the command too
  (``tidings serve --db x.db``): :func:`hoist_global_options`;
- one format for every error line, ``error T###: source: reason (hint)``, usage errors included,
  and no traceback for a user error (:func:`run`);
- help texts as written: square brackets are not eaten as Rich markup, single line breaks inside
  a paragraph are joined, flags show no ``<bool>`` type, arguments read ``PATHS...`` in the usage;
- :func:`plural` ("1 article", "2 articles"), :func:`shorten` (cut with "…"), :func:`progress`
  (a bar with count, percentage and ETA when the total is known, a spinner otherwise).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import typer
import typer.core
import typer.main
import typer.rich_utils
from typer._click import exceptions as click_errors  # the click that typer vendors and raises
from rich.console import Console
from rich.markup import escape

from .errors import TidingsError, UsageError

#: Options of the main callback that may also be written after the command. value: takes a value.
GLOBAL_OPTIONS = {"--db": True, "--config": True, "--debug": False}

_ERROR_PREFIX = "[red]error[/red] "


# ---- words -------------------------------------------------------------------------------------
_IRREGULAR = {"story": "stories", "entity": "entities", "query": "queries", "match": "matches",
              "was": "were", "is": "are", "has": "have"}


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``plural(1, "article")`` -> "1 article", ``plural(3, "story")`` -> "3 stories"."""
    if count == 1:
        return f"{count} {singular}"
    return f"{count} {plural_form or _IRREGULAR.get(singular) or singular + 's'}"


def shorten(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters at a word boundary where one is near, ending in "…"."""
    text = " ".join((text or "").split())
    if len(text) <= limit:
        return text
    cut = text[:limit - 1]
    space = cut.rfind(" ")
    if space >= limit * 2 // 3:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-–—") + "…"


def error_line(exc: TidingsError) -> str:
    """The one format of an error line (Rich markup): ``error T104: file.jsonl:3: malformed JSON``."""
    return f"{_ERROR_PREFIX}{exc.code}: {escape(str(exc))}"


def print_error(console: Console, exc: TidingsError) -> None:
    console.print(error_line(exc), highlight=False, soft_wrap=True)


# ---- progress ----------------------------------------------------------------------------------
class _Progress:
    """What :func:`progress` yields: ``advance(n, description)`` and ``total`` (settable)."""

    def __init__(self, bar, task):
        self._bar, self._task = bar, task

    def advance(self, n: int = 1, description: str | None = None) -> None:
        if self._bar is None:
            return
        fields = {"description": description[:40]} if description else {}
        self._bar.update(self._task, advance=n, **fields)

    def set_total(self, total: int | None) -> None:
        if self._bar is not None:
            self._bar.update(self._task, total=total)


@contextmanager
def progress(console: Console, unit: str, total: int | None = None, enabled: bool = True) -> Iterator[_Progress]:
    """A transient progress display on ``console`` (stderr): with a known ``total`` a bar with
    "n/total unit", percentage and ETA; without one a spinner with the count and elapsed time.
    Nothing is drawn when ``enabled`` is false or the console is no terminal."""
    if not (enabled and console.is_terminal):
        yield _Progress(None, None)
        return
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TaskProgressColumn,
                               TextColumn, TimeElapsedColumn, TimeRemainingColumn)
    if total:
        columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn(unit),
                   TaskProgressColumn(), TextColumn("ETA"), TimeRemainingColumn()]
    else:
        columns = [SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed} " + unit),
                   TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=True) as bar:
        yield _Progress(bar, bar.add_task("", total=total or None))


# ---- help texts ----------------------------------------------------------------------------------
_JOIN_LINES = re.compile(r"(?<=\S)\n(?=\S)")


def _polish_help_text(text: str) -> str:
    """Join single line breaks inside a paragraph (an indented line, as in an example block, stays),
    and escape square brackets so that "[default: x]" is shown instead of being read as markup."""
    return escape(_JOIN_LINES.sub(" ", text))


def _install_help_style() -> None:
    make_rich_text = typer.rich_utils._make_rich_text
    if getattr(make_rich_text, "_tidings", False):
        return

    def polished(*, text: str, style: str = "", markup_mode):
        import inspect
        if markup_mode == typer.rich_utils.MARKUP_MODE_RICH:
            text = _polish_help_text(inspect.cleandoc(text))
        return make_rich_text(text=text, style=style, markup_mode=markup_mode)

    polished._tidings = True
    typer.rich_utils._make_rich_text = polished

    option_type = typer.core.TyperOption.display_type_rich

    def flag_type(self, ctx):  # a flag takes no value: show no "<bool>"
        return None if self.is_flag else option_type(self, ctx)

    typer.core.TyperOption.display_type_rich = flag_type

    def usage_name(self) -> str:  # PATHS... and [CURSOR] instead of {paths}...
        name = (self.metavar or self.name or "").upper()
        name = name if self.required else f"[{name}]"
        return name + ("..." if self.nargs != 1 else "")

    typer.core.TyperArgument._usage_display_name = usage_name


_install_help_style()


# ---- global options after the command -------------------------------------------------------------
def _leaf(group: typer.core.TyperGroup, args: Sequence[str]) -> tuple[typer.core.TyperCommand | None, int]:
    """The (sub)command that ``args`` name and the index of its name, skipping options and their values."""
    command: typer.core.TyperCommand = group
    found, index, i = None, -1, 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            break
        if arg.startswith("-"):
            name = arg.split("=", 1)[0]
            takes = GLOBAL_OPTIONS.get(name) if command is group else _takes_value(command, name)
            i += 2 if takes and "=" not in arg else 1
            continue
        if isinstance(command, typer.core.TyperGroup) and arg in command.commands:
            command, found, index = command.commands[arg], command.commands[arg], i
            i += 1
            continue
        if isinstance(command, typer.core.TyperGroup):
            break
        i += 1
    return found, index


def _takes_value(command: typer.core.TyperCommand, name: str) -> bool:
    for param in command.params:
        if isinstance(param, typer.core.TyperOption) and name in param.opts + param.secondary_opts:
            return not param.is_flag and not param.count
    return False


def hoist_global_options(group: typer.core.TyperGroup, args: Sequence[str]) -> list[str]:
    """Move ``--db X``, ``--config X`` and ``--debug`` written after the command to before it,
    unless the command defines an option of the same name itself. ``--`` ends the search."""
    args = list(args)
    first = next((i for i, a in enumerate(args) if not a.startswith("-") and a in group.commands), None)
    if first is None:
        return args
    leaf, _ = _leaf(group, args)
    own = {o for p in (leaf.params if leaf else []) if isinstance(p, typer.core.TyperOption) for o in p.opts}
    head, tail, hoisted, i = args[:first], args[first:], [], 0
    kept: list[str] = []
    while i < len(tail):
        arg = tail[i]
        if arg == "--":
            kept += tail[i:]
            break
        name = arg.split("=", 1)[0]
        if name in GLOBAL_OPTIONS and name not in own:
            if GLOBAL_OPTIONS[name] and "=" not in arg:
                hoisted += tail[i:i + 2]
                i += 2
            else:
                hoisted.append(arg)
                i += 1
            continue
        if arg.startswith("-") and leaf is not None and _takes_value(leaf, name) and "=" not in arg:
            kept += tail[i:i + 2]
            i += 2
            continue
        kept.append(arg)
        i += 1
    return head + hoisted + kept


# ---- the entry point --------------------------------------------------------------------------------
def _usage_hint(exc: click_errors.UsageError) -> str | None:
    ctx = exc.ctx
    if ctx is None:
        return None
    return f"see: {ctx.command_path} --help"


def run(app: typer.Typer, argv: Sequence[str] | None, console: Console, debug: Callable[[], bool]) -> int:
    """Run ``app`` on ``argv`` and return the exit status: 0 done, 1 partly failed (the command's
    own ``typer.Exit(1)``), 2 a user error (printed as one ``error T###:`` line), 130 interrupted."""
    group = typer.main.get_command(app)
    args = hoist_global_options(group, sys.argv[1:] if argv is None else argv)
    try:
        result = group.main(args=args, prog_name="tidings", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except TidingsError as exc:
        if debug():
            raise
        print_error(console, exc)
        return 2
    except click_errors.NoArgsIsHelpError as exc:  # "tidings" alone: the help
        exc.show()
        return 2
    except click_errors.UsageError as exc:
        print_error(console, UsageError(exc.format_message().rstrip("."), hint=_usage_hint(exc)))
        return 2
    except click_errors.ClickException as exc:  # FileError and kin: a user error too
        print_error(console, UsageError(exc.format_message()))
        return exc.exit_code or 2
    except BrokenPipeError:  # tidings stories | head
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - Python flushes stderr at exit
        return 1
    except OSError as exc:  # a path the user named (a folder that does not exist, no permission...)
        if debug() or not exc.filename:
            raise
        print_error(console, as_user_error(exc, "use it"))
        return 2
    except (typer.Abort, KeyboardInterrupt):
        console.print("interrupted", highlight=False)
        return 130


def as_user_error(exc: OSError, what: str) -> TidingsError:
    """An OSError on a path the user named, as the TidingsError to raise (T002)."""
    from .errors import FileAccessError
    reason = exc.strerror or str(exc)
    return FileAccessError(f"cannot {what}: {reason.lower() if reason[:1].isupper() else reason}",
                           source=str(exc.filename) if exc.filename else None)
