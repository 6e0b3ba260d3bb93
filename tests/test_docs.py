"""Docs that cannot drift: every CLI command, setting and API route is documented."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

from tidings.cli import app
from tidings.config import default_settings

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _commands(group, prefix="tidings"):
    click_group = typer.main.get_command(group)
    for name, command in click_group.commands.items():
        if hasattr(command, "commands"):
            for sub in command.commands:
                yield f"{prefix} {name} {sub}"
        else:
            yield f"{prefix} {name}"


def test_every_cli_command_is_documented():
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    missing = [c for c in _commands(app) if f"`{c}" not in text]
    assert not missing, f"undocumented in docs/cli.md: {missing}"


def test_every_setting_is_documented():
    text = (DOCS / "settings.md").read_text(encoding="utf-8")
    missing = [f"{section}.{key}" for section, values in default_settings().as_dict().items()
               for key in values if f"`{section}.{key}`" not in text]
    assert not missing, f"undocumented in docs/settings.md: {missing}"


def test_every_error_code_is_documented():
    import tidings.errors as errors
    from tidings import export, queries

    text = (DOCS / "errors.md").read_text(encoding="utf-8")
    classes = [obj for module in (errors, queries, export) for obj in vars(module).values()
               if isinstance(obj, type) and issubclass(obj, errors.TidingsError)]
    missing = sorted({c.code for c in classes if not re.search(rf"\b{c.code}\b", text)})
    assert not missing, f"undocumented in docs/errors.md: {missing}"


def test_settings_doc_is_generated_from_the_shipped_defaults():
    import subprocess
    import sys

    script = DOCS.parent / "scripts" / "settings_doc.py"
    result = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
