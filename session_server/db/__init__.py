"""Database: SQLAlchemy 2 models and the async engine (SQLite or PostgreSQL)."""
