"""``python -m steward`` runs the ``steward`` command."""

from steward.cli.main import main

main()
