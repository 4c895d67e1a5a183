"""Django's SQLite backend, with writers queueing on a lock file (see base.py)."""
