"""MLflow, pointed at Steward over HTTP: ``mlflow.set_registry_uri("steward:http://host:8080")``.

Installed with Steward (entry points ``mlflow.model_registry_store`` and
``mlflow.artifact_repository``, scheme ``steward``); MLflow itself is the ``mlflow`` extra.
The stock ``uc:`` store writes a version's files to its ``file:`` storage location, so it
only works on the server's own filesystem, and it has no aliases or tags. This plugin
speaks Steward's REST API for the registry (:mod:`.store`) and its artifact routes for the
files (:mod:`.artifacts`), with Steward's token (``MLFLOW_UC_OSS_TOKEN`` or
``STEWARD_TOKEN``), so a laptop registers, sets ``@champion`` and loads
``models:/main.ml.churn@champion`` from anywhere. docs/registry.md ("MLflow as a client")
says how.

MLflow imports the artifact repository's module while ``import mlflow`` runs, in every
process where Steward is installed: these modules import MLflow's light modules and the
standard library only, never the Python client (httpx, scikit-learn) nor the server.
"""
