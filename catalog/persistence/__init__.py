"""SQLAlchemy persistence of the catalog: tables, engine set-up and migrations."""
