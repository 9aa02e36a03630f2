"""One router per resource: models and versions, artifacts, serving endpoints."""
