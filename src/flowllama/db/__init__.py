"""Database: tables, engine/session and Alembic migrations."""
