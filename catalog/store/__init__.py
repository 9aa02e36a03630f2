"""Store interfaces (``base``), their SQLAlchemy implementation (``sqlalchemy_stores``) and
the factory the composition root picks them with (``factory``)."""
