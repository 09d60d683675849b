"""Persistence: typed SQLAlchemy 2 models, engine and session factory. Alembic owns the schema."""
