"""FastAPI layer: thin routes over the domain services."""
