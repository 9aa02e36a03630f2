"""Store interfaces (``base``) and their SQLAlchemy implementation (``sql``)."""
