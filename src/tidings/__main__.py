"""``python -m tidings`` runs the command-line interface (same as the ``tidings`` command)."""

from .cli import main

main()
