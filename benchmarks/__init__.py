"""Benchmarks of Steward, run against a real server process (see benchmarks/README.md)."""
