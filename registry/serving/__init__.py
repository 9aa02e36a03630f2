"""Governed model serving (SPEC §9): endpoints over registered model versions."""
