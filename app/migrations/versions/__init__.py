"""One file per schema revision, oldest first (0001 is the schema main's code made with CREATE TABLE IF NOT EXISTS)."""
