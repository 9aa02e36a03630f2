"""Steward's catalog: namespace, persistence, identity, HTTP app and CLI building blocks."""
