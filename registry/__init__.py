"""Steward's model registry: registered models, versions, (later) aliases, artifacts and serving."""
