"""SQLAlchemy persistence of the registry: its tables (``schema``) and their Alembic
migrations, applied beside the catalog's by the composition root."""
