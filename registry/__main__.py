"""``python -m registry`` runs the ``steward`` command."""

from registry.cli import main

main()
