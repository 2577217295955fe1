"""Alembic migrations of ProcLab's database (SQLite or PostgreSQL); app/storage.py runs them to head at open."""
