"""Command-line client pieces: HTTP access, output rendering and the catalog's commands."""
