"""Governed model serving (docs/serving.md): endpoints over registered model versions."""
